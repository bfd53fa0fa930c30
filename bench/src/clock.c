/* clock_gettime(CLOCK_MONOTONIC) loop through libc (the vDSO where there is one): prints
 * the mean cost of one call in ns.
 *   clock [N]   (default 1000000) */
#include "common.h"
#include <time.h>

int main(int argc, char **argv)
{
    long n = arg_count(argc, argv, 1, 1000000);
    struct timespec t;
    long sink = 0;
    for (long i = 0; i < n / 100 + 1; i++) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        sink += t.tv_nsec;
    }
    double t0 = now_ns();
    for (long i = 0; i < n; i++) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        sink += t.tv_nsec;
    }
    double t1 = now_ns();
    if (sink < 0)
        return 1;
    printf("%.1f\n", (t1 - t0) / (double)n);
    return 0;
}
