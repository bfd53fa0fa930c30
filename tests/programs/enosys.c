/* System calls that Linux does not implement must fail with ENOSYS (a
 * sandbox may say EPERM instead), and the process must go on normally. */
#include "t.h"

static const struct {
    long nr;
    const char *name;
} calls[] = {
    {174, "create_module"}, {177, "get_kernel_syms"}, {178, "query_module"},
    {180, "nfsservctl"},    {181, "getpmsg"},         {182, "putpmsg"},
    {183, "afs_syscall"},   {184, "tuxcall"},         {185, "security"},
    {236, "vserver"},       {5000, "number 5000"},    {100000, "number 100000"},
    {-1, "number -1"},
};

int main(void)
{
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        errno = 0;
        long r = syscall(calls[i].nr, 1, 2, 3, 4, 5, 6);
        int e = errno;
        int ok = r == -1 && (e == ENOSYS || e == EPERM);
        printf("%s: %s\n", calls[i].name, ok ? "-1, ENOSYS or EPERM" : "UNEXPECTED");
        if (!ok) {
            printf("FAIL %s returned %ld errno %s\n", calls[i].name, r, t_errname(e));
            t_failures++;
        }
        t_checks++;
    }
    /* the same call again (an implementation may log only once) */
    errno = 0;
    CHECK(syscall(184, 0, 0, 0, 0, 0, 0) == -1 && (errno == ENOSYS || errno == EPERM));
    /* and ordinary calls still work */
    CHECK_EQ(write(1, "still running\n", 14), 14);
    fflush(stdout);
    return t_finish("enosys");
}
