/* The initial process stack as the ELF loader builds it: argc/argv/envp/auxv
 * layout and alignment, and the auxiliary vector's entries.  Prints only
 * facts that are the same natively and under myst (argv[0] as a basename,
 * no addresses). */
#include "t.h"
#include <elf.h>
#include <sys/auxv.h>

#ifndef AT_MINSIGSTKSZ
#define AT_MINSIGSTKSZ 51
#endif

extern const Elf64_Ehdr __ehdr_start; /* provided by the linker */
extern char _start[];                 /* the entry point of crt1 / rcrt1 */

static const struct {
    unsigned long type;
    const char *name;
} required[] = {
    {AT_PHDR, "AT_PHDR"},       {AT_PHENT, "AT_PHENT"},     {AT_PHNUM, "AT_PHNUM"},
    {AT_PAGESZ, "AT_PAGESZ"},   {AT_BASE, "AT_BASE"},       {AT_FLAGS, "AT_FLAGS"},
    {AT_ENTRY, "AT_ENTRY"},     {AT_UID, "AT_UID"},         {AT_EUID, "AT_EUID"},
    {AT_GID, "AT_GID"},         {AT_EGID, "AT_EGID"},       {AT_PLATFORM, "AT_PLATFORM"},
    {AT_HWCAP, "AT_HWCAP"},     {AT_CLKTCK, "AT_CLKTCK"},   {AT_SECURE, "AT_SECURE"},
    {AT_RANDOM, "AT_RANDOM"},   {AT_HWCAP2, "AT_HWCAP2"},   {AT_EXECFN, "AT_EXECFN"},
    {AT_MINSIGSTKSZ, "AT_MINSIGSTKSZ"},
};
#define NREQ (sizeof required / sizeof required[0])

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static const char *yesno(int b)
{
    return b ? "yes" : "no";
}

static unsigned stack_user(int depth)
{
    volatile unsigned char frame[4096];
    frame[0] = (unsigned char)depth;
    frame[4095] = (unsigned char)(depth >> 8);
    if (depth == 0)
        return frame[0];
    return stack_user(depth - 1) + frame[4095];
}

int main(int argc, char **argv, char **envp)
{
    t_section("argv");
    printf("argc=%d\n", argc);
    printf("argv[0] basename=%s\n", base_name(argv[0]));
    for (int i = 1; i < argc; i++)
        printf("argv[%d]=[%s]\n", i, argv[i]);
    CHECK(argv[argc] == NULL);

    t_section("initial stack layout");
    long *sp = (long *)argv - 1; /* where the kernel left rsp */
    int aligned = ((uintptr_t)sp & 15) == 0;
    printf("stack pointer 16-byte aligned at entry: %s\n", yesno(aligned));
    CHECK(aligned);
    CHECK(*sp == argc);
    printf("envp follows argv: %s\n", yesno(envp == argv + argc + 1));
    CHECK(envp == argv + argc + 1);
    int envc = 0;
    while (envp[envc])
        envc++;
    Elf64_auxv_t *auxv = (Elf64_auxv_t *)(envp + envc + 1);

    /* Linux packs the strings: argv strings, then envp strings, then the
     * AT_EXECFN string, each right after the previous one. */
    int packed = 1;
    const char *next = argv[0];
    for (int i = 0; i < argc; i++) {
        packed &= argv[i] == next;
        next = argv[i] + strlen(argv[i]) + 1;
    }
    for (int i = 0; i < envc; i++) {
        packed &= envp[i] == next;
        next = envp[i] + strlen(envp[i]) + 1;
    }
    const char *execfn = (const char *)getauxval(AT_EXECFN);
    packed &= execfn == next;
    printf("argv, envp and execfn strings packed in order: %s\n", yesno(packed));
    CHECK(packed);

    t_section("auxv");
    unsigned long seen[NREQ] = {0};
    unsigned long val[NREQ] = {0};
    int n = 0;
    Elf64_auxv_t *a = auxv;
    for (; a->a_type != AT_NULL && n < 200; a++, n++) {
        for (size_t k = 0; k < NREQ; k++)
            if (a->a_type == required[k].type) {
                seen[k]++;
                val[k] = a->a_un.a_val;
            }
        /* getauxval agrees with the vector for each first occurrence (glibc
         * reports its own view of the HWCAP words, so those are skipped) */
        int first = 1;
        for (Elf64_auxv_t *b = auxv; b < a; b++)
            first &= b->a_type != a->a_type;
        if (first && a->a_type != AT_IGNORE && a->a_type != AT_HWCAP && a->a_type != AT_HWCAP2 &&
            getauxval(a->a_type) != a->a_un.a_val) {
            printf("FAIL getauxval(%lu) disagrees with auxv\n", (unsigned long)a->a_type);
            t_failures++;
        }
    }
    CHECK(a->a_type == AT_NULL);
    int missing = 0;
    for (size_t k = 0; k < NREQ; k++) {
        if (seen[k] != 1) {
            printf("%s: %s\n", required[k].name, seen[k] ? "DUPLICATED" : "MISSING");
            missing++;
        }
    }
    printf("required auxv entries present once each: %s\n", yesno(missing == 0));
    CHECK_EQ(missing, 0);

    printf("AT_PAGESZ=%lu\n", getauxval(AT_PAGESZ));
    CHECK_EQ(getauxval(AT_PAGESZ), 4096);
    printf("AT_PHENT=%lu\n", getauxval(AT_PHENT));
    CHECK_EQ(getauxval(AT_PHENT), sizeof(Elf64_Phdr));
    const Elf64_Ehdr *eh = &__ehdr_start;
    uintptr_t phdr = getauxval(AT_PHDR);
    int phdr_ok = phdr != 0 && phdr == (uintptr_t)eh + eh->e_phoff &&
                  getauxval(AT_PHNUM) == eh->e_phnum;
    printf("AT_PHDR/AT_PHNUM describe this program's headers: %s\n", yesno(phdr_ok));
    CHECK(phdr_ok);
    /* load bias: where the first PT_LOAD (file offset 0) landed */
    uintptr_t bias = 0;
    const Elf64_Phdr *ph = (const Elf64_Phdr *)phdr;
    for (int i = 0; phdr && i < eh->e_phnum; i++)
        if (ph[i].p_type == PT_LOAD && ph[i].p_offset == 0) {
            bias = (uintptr_t)eh - ph[i].p_vaddr;
            break;
        }
    uintptr_t entry = getauxval(AT_ENTRY);
    int entry_ok = entry != 0 && entry == bias + eh->e_entry && entry == (uintptr_t)_start;
    printf("AT_ENTRY is this program's _start: %s\n", yesno(entry_ok));
    CHECK(entry_ok);
    printf("program type: %s\n", eh->e_type == ET_EXEC ? "ET_EXEC" : eh->e_type == ET_DYN ? "ET_DYN" : "other");

    int has_interp = 0;
    for (int i = 0; phdr && i < eh->e_phnum; i++)
        has_interp |= ph[i].p_type == PT_INTERP;
    uintptr_t base = getauxval(AT_BASE);
    printf("PT_INTERP: %s, AT_BASE: %s\n", yesno(has_interp), base ? "nonzero" : "zero");
    CHECK(has_interp ? base != 0 : base == 0);
    if (base) {
        const unsigned char *ib = (const unsigned char *)base;
        int ok = memcmp(ib, ELFMAG, SELFMAG) == 0 && ((const Elf64_Ehdr *)ib)->e_type == ET_DYN;
        printf("AT_BASE points at the interpreter's ELF header: %s\n", yesno(ok));
        CHECK(ok);
    }
    CHECK_EQ(getauxval(AT_FLAGS), 0);
    CHECK(getauxval(AT_UID) == getuid() && getauxval(AT_EUID) == geteuid());
    CHECK(getauxval(AT_GID) == getgid() && getauxval(AT_EGID) == getegid());
    printf("AT_SECURE=%lu\n", getauxval(AT_SECURE));
    CHECK_EQ(getauxval(AT_SECURE), 0);
    printf("AT_CLKTCK=%lu\n", getauxval(AT_CLKTCK));
    CHECK_EQ(getauxval(AT_CLKTCK), 100);
    const char *plat = (const char *)getauxval(AT_PLATFORM);
    printf("AT_PLATFORM=%s\n", plat ? plat : "(null)");
    CHECK(plat && strcmp(plat, "x86_64") == 0);

    /* the raw kernel value (glibc's getauxval reports its own view);
     * Linux passes CPUID.1:EDX, the same natively and under myst */
    unsigned long hwcap = 0;
    for (size_t k = 0; k < NREQ; k++)
        if (required[k].type == AT_HWCAP)
            hwcap = val[k];
    printf("AT_HWCAP=%#lx\n", hwcap);
    CHECK(hwcap != 0);
    CHECK(getauxval(AT_MINSIGSTKSZ) >= 1024);

    const unsigned char *rnd = (const unsigned char *)getauxval(AT_RANDOM);
    int nonzero = 0;
    for (int i = 0; rnd && i < 16; i++)
        nonzero += rnd[i] != 0;
    printf("AT_RANDOM: 16 bytes, not all zero: %s\n", yesno(rnd && nonzero > 0));
    CHECK(rnd && nonzero > 0);
    int rnd_placed = rnd && (uintptr_t)rnd > (uintptr_t)(a + 1) && (uintptr_t)rnd + 16 <= (uintptr_t)argv[0];
    printf("AT_RANDOM lies between auxv and the strings: %s\n", yesno(rnd_placed));
    CHECK(rnd_placed);

    printf("AT_EXECFN equals argv[0]: %s\n", yesno(execfn && strcmp(execfn, argv[0]) == 0));
    CHECK(execfn && strcmp(execfn, argv[0]) == 0);

    t_section("stack");
    /* 1 MiB of stack, one page at a time: the stack grows on demand */
    printf("deep recursion result: %u\n", stack_user(256));
    return t_finish("args");
}
