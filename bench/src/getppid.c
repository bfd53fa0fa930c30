/* getppid loop: prints the mean cost of one getppid system call in ns.
 *   getppid [N]   (default 1000000) */
#define _GNU_SOURCE
#include "common.h"
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    long n = arg_count(argc, argv, 1, 1000000);
    long sink = 0;
    /* warm up */
    for (long i = 0; i < n / 100 + 1; i++)
        sink += syscall(SYS_getppid);
    double t0 = now_ns();
    for (long i = 0; i < n; i++)
        sink += syscall(SYS_getppid);
    double t1 = now_ns();
    if (sink < 0)
        return 1;
    printf("%.1f\n", (t1 - t0) / (double)n);
    return 0;
}
