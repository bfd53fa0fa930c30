/* Memory: mmap (anonymous, file-backed private, MAP_FIXED inside a mapping),
 * munmap holes, mprotect, mremap (grow, shrink, move), madvise(DONTNEED),
 * brk.  Unmapped or protected memory is probed with write(2), which must fail
 * with EFAULT rather than crash. */
#include "t.h"
#include <sys/mman.h>

#define PG 4096L

static int probe_fd = -1;

/* 1 if the kernel can read the byte at p, 0 if it says EFAULT. */
static int readable(const void *p)
{
    errno = 0;
    ssize_t n = write(probe_fd, p, 1);
    if (n == 1)
        return 1;
    if (n == -1 && errno == EFAULT)
        return 0;
    printf("FAIL probe: write returned %ld errno %s\n", (long)n, t_errname(errno));
    t_failures++;
    return -1;
}

static int all_bytes(const unsigned char *p, long len, unsigned char v)
{
    for (long i = 0; i < len; i++)
        if (p[i] != v)
            return 0;
    return 1;
}

static void test_anon(void)
{
    t_section("anonymous mmap");
    unsigned char *p = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED);
    CHECK(((uintptr_t)p & (PG - 1)) == 0);
    CHECK(all_bytes(p, 3 * PG, 0));
    memset(p, 0xab, 3 * PG);
    CHECK(all_bytes(p, 3 * PG, 0xab));
    CHECK_EQ(munmap(p, 3 * PG), 0);
    CHECK_EQ(readable(p), 0);

    /* a large mapping, touched sparsely */
    long big = 64L << 20;
    unsigned char *q = mmap(NULL, (size_t)big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(q != MAP_FAILED);
    unsigned sum = 0;
    for (long off = 0; off < big; off += PG) {
        q[off] = (unsigned char)(off / PG);
        sum += q[off];
    }
    CHECK_EQ(munmap(q, (size_t)big), 0);
    printf("anon: 64 MiB touched, sum %u\n", sum);

    /* errors */
    CHECK(mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED && errno == EINVAL);
    CHECK(mmap(NULL, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 1) == MAP_FAILED && errno == EINVAL);
    CHECK(mmap(NULL, PG, PROT_READ, MAP_PRIVATE, -1, 0) == MAP_FAILED && errno == EBADF);
    CHECK(mmap(NULL, PG, PROT_READ, MAP_ANONYMOUS, -1, 0) == MAP_FAILED && errno == EINVAL);
    CHECK_ERR(munmap((void *)((uintptr_t)p + 1), PG), EINVAL);
}

static void test_file_private(void)
{
    t_section("file-backed private mmap");
    const char *f = t_path("map.bin");
    static char content[3 * 4096 + 100];
    for (size_t i = 0; i < sizeof content; i++)
        content[i] = (char)('a' + i % 26);
    CHECK_EQ(t_write_file(f, content, sizeof content), 0);
    int fd = open(f, O_RDONLY);
    char *p = mmap(NULL, 4 * PG, PROT_READ, MAP_PRIVATE, fd, 0);
    CHECK(p != MAP_FAILED);
    CHECK(memcmp(p, content, sizeof content) == 0);
    /* past EOF in the last page reads as zeros */
    CHECK(all_bytes((unsigned char *)p + sizeof content, 4 * PG - (long)sizeof content, 0));
    printf("file map: first bytes %.8s, byte 12300 '%c'\n", p, p[12300]);
    CHECK_EQ(munmap(p, 4 * PG), 0);

    /* a page offset */
    p = mmap(NULL, PG, PROT_READ, MAP_PRIVATE, fd, PG);
    CHECK(p != MAP_FAILED);
    CHECK(memcmp(p, content + PG, PG) == 0);
    CHECK_EQ(munmap(p, PG), 0);
    CHECK(mmap(NULL, PG, PROT_READ, MAP_PRIVATE, fd, 100) == MAP_FAILED && errno == EINVAL);
    /* MAP_SHARED+PROT_WRITE needs a writable fd */
    CHECK(mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED && errno == EACCES);

    /* private writes stay private; the mapping outlives the fd */
    p = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    CHECK(p != MAP_FAILED);
    close(fd);
    memcpy(p, "PRIVATE", 7);
    CHECK(memcmp(p, "PRIVATE", 7) == 0);
    fd = open(f, O_RDONLY);
    char buf[8] = {0};
    CHECK_EQ(pread(fd, buf, 7, 0), 7);
    printf("file after private write: %s\n", buf);
    CHECK(memcmp(buf, content, 7) == 0);
    /* madvise(DONTNEED) on a private file mapping drops our copy */
    CHECK_EQ(madvise(p, PG, MADV_DONTNEED), 0);
    CHECK(memcmp(p, content, 7) == 0);
    CHECK_EQ(munmap(p, 2 * PG), 0);
    close(fd);
    /* a directory cannot be mapped */
    int dfd = open(t_dir, O_RDONLY);
    CHECK(mmap(NULL, PG, PROT_READ, MAP_PRIVATE, dfd, 0) == MAP_FAILED && errno == ENODEV);
    close(dfd);
}

static void test_fixed_and_holes(void)
{
    t_section("MAP_FIXED and munmap holes");
    unsigned char *p = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED);
    memset(p, 'A', 4 * PG);
    /* replace page 1 with a fresh anonymous page */
    unsigned char *r = mmap(p + PG, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    CHECK(r == p + PG);
    CHECK(all_bytes(p, PG, 'A'));
    CHECK(all_bytes(p + PG, PG, 0));
    CHECK(all_bytes(p + 2 * PG, 2 * PG, 'A'));
    /* replace page 2 with file contents */
    const char *f = t_path("fixed.bin");
    static char fc[4096];
    memset(fc, 'F', sizeof fc);
    CHECK_EQ(t_write_file(f, fc, sizeof fc), 0);
    int fd = open(f, O_RDONLY);
    r = mmap(p + 2 * PG, PG, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0);
    CHECK(r == p + 2 * PG);
    CHECK(all_bytes(p + 2 * PG, PG, 'F'));
    close(fd);
    CHECK(mmap(p + 1, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED && errno == EINVAL);

    /* punch a hole at page 1 */
    CHECK_EQ(munmap(p + PG, PG), 0);
    CHECK_EQ(readable(p), 1);
    CHECK_EQ(readable(p + PG), 0);
    CHECK_EQ(readable(p + 2 * PG), 1);
    CHECK_EQ(readable(p + 3 * PG), 1);
    CHECK(all_bytes(p + 3 * PG, PG, 'A'));
    CHECK_ERR(mprotect(p + PG, PG, PROT_READ), ENOMEM);
    /* munmap of an unmapped range is fine */
    CHECK_EQ(munmap(p + PG, PG), 0);
    /* unmapping across the hole removes the rest */
    CHECK_EQ(munmap(p, 4 * PG), 0);
    CHECK_EQ(readable(p), 0);
    CHECK_EQ(readable(p + 3 * PG), 0);
    printf("MAP_FIXED and holes ok\n");
}

static void test_mprotect(void)
{
    t_section("mprotect");
    unsigned char *p = mmap(NULL, 2 * PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED);
    CHECK_EQ(mprotect(p, 2 * PG, PROT_READ | PROT_WRITE), 0);
    p[0] = 1;
    p[2 * PG - 1] = 2;
    CHECK(p[0] == 1 && p[2 * PG - 1] == 2);
    CHECK_EQ(mprotect(p + PG, PG, PROT_NONE), 0);
    CHECK_EQ(readable(p), 1);
    CHECK_EQ(readable(p + PG), 0);
    /* the kernel must not write into a read-only page either */
    CHECK_EQ(mprotect(p, PG, PROT_READ), 0);
    int fd = open(t_path("src"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK_EQ(write(fd, "xyz", 3), 3);
    CHECK_ERR(pread(fd, p, 3, 0), EFAULT);
    close(fd);
    CHECK_EQ(mprotect(p, 2 * PG, PROT_READ | PROT_WRITE), 0);
    CHECK(p[2 * PG - 1] == 2);
    CHECK_ERR(syscall(SYS_mprotect, p + 1, PG, PROT_READ), EINVAL); /* raw: musl aligns */
    CHECK_EQ(munmap(p, 2 * PG), 0);
    printf("mprotect ok\n");
}

static void test_mremap(void)
{
    t_section("mremap");
    unsigned char *p = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED);
    memset(p, 'M', PG);
    unsigned char *q = mremap(p, PG, 4 * PG, MREMAP_MAYMOVE);
    CHECK(q != MAP_FAILED);
    if (q == MAP_FAILED)
        return;
    CHECK(all_bytes(q, PG, 'M'));
    CHECK(all_bytes(q + PG, 3 * PG, 0));
    memset(q + 3 * PG, 'E', PG);
    /* shrink in place */
    unsigned char *s = mremap(q, 4 * PG, 2 * PG, 0);
    CHECK(s == q);
    CHECK_EQ(readable(q + 3 * PG), 0);
    /* grow in place where the next page is taken fails without MAYMOVE */
    unsigned char *blocker = mmap(q + 2 * PG, PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    CHECK(blocker == q + 2 * PG);
    CHECK(mremap(q, 2 * PG, 3 * PG, 0) == MAP_FAILED && errno == ENOMEM);
    CHECK_EQ(munmap(blocker, PG), 0);
    /* move to a chosen place */
    unsigned char *dst = mmap(NULL, 8 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(dst != MAP_FAILED);
    unsigned char *m = mremap(q, 2 * PG, 2 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, dst + 4 * PG);
    CHECK(m == dst + 4 * PG);
    if (m != MAP_FAILED) {
        CHECK(all_bytes(m, PG, 'M'));
        CHECK(all_bytes(m + PG, PG, 0));
        CHECK_EQ(readable(q), 0);
    }
    CHECK(mremap(dst, PG, PG, MREMAP_FIXED, dst + PG) == MAP_FAILED && errno == EINVAL);
    CHECK(mremap(dst + 1, PG, PG, 0) == MAP_FAILED && errno == EINVAL);
    CHECK_EQ(munmap(dst, 8 * PG), 0);
    printf("mremap ok\n");
}

static void test_madvise(void)
{
    t_section("madvise");
    unsigned char *p = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED);
    memset(p, 0x5a, 4 * PG);
    CHECK_EQ(madvise(p + PG, 2 * PG, MADV_DONTNEED), 0);
    CHECK(all_bytes(p, PG, 0x5a));
    CHECK(all_bytes(p + PG, 2 * PG, 0));
    CHECK(all_bytes(p + 3 * PG, PG, 0x5a));
    CHECK_EQ(madvise(p, 4 * PG, MADV_NORMAL), 0);
    CHECK_EQ(madvise(p, 4 * PG, MADV_WILLNEED), 0);
    CHECK_EQ(madvise(p, 4 * PG, MADV_SEQUENTIAL), 0);
    CHECK_EQ(madvise(p, 4 * PG, MADV_RANDOM), 0);
    CHECK_ERR(madvise(p + 1, PG, MADV_DONTNEED), EINVAL);
    CHECK_EQ(munmap(p, 4 * PG), 0);
    printf("madvise ok\n");
}

static void test_brk(void)
{
    t_section("brk");
    uintptr_t cur = (uintptr_t)syscall(SYS_brk, 0);
    CHECK(cur != 0);
    uintptr_t want = cur + 256 * 1024;
    uintptr_t got = (uintptr_t)syscall(SYS_brk, want);
    CHECK(got == want);
    unsigned char *p = (unsigned char *)cur;
    memset(p, 0x77, 256 * 1024);
    CHECK(all_bytes(p, 256 * 1024, 0x77));
    CHECK((uintptr_t)syscall(SYS_brk, 0) == want);
    /* shrinking works and releases the memory */
    CHECK((uintptr_t)syscall(SYS_brk, cur + PG) == cur + PG);
    CHECK_EQ(readable((void *)(cur + 64 * 1024)), 0);
    /* growing again gives zeroed memory */
    CHECK((uintptr_t)syscall(SYS_brk, want) == want);
    CHECK(all_bytes(p + 2 * PG, 8 * PG, 0));
    /* a request below the start is refused: brk stays put */
    CHECK((uintptr_t)syscall(SYS_brk, 4096) == want);
    CHECK((uintptr_t)syscall(SYS_brk, cur) == cur);
    /* malloc still works (it may use brk or mmap) */
    void *m[100];
    for (int i = 0; i < 100; i++) {
        m[i] = malloc((size_t)(i + 1) * 1000);
        CHECK(m[i] != NULL);
        memset(m[i], i, (size_t)(i + 1) * 1000);
    }
    for (int i = 0; i < 100; i++)
        free(m[i]);
    printf("brk ok\n");
}

int main(void)
{
    t_mkdir("mmap");
    probe_fd = open(t_path("probe"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    test_anon();
    test_file_private();
    test_fixed_and_holes();
    test_mprotect();
    test_mremap();
    test_madvise();
    test_brk();
    close(probe_fd);
    t_cleanup();
    return t_finish("mmap");
}
