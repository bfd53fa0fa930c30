/* Shared by the bench programs: a monotonic clock in nanoseconds and a
 * count argument. */
#ifndef MYST_BENCH_COMMON_H
#define MYST_BENCH_COMMON_H
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static inline long arg_count(int argc, char **argv, int i, long dflt)
{
    if (argc <= i)
        return dflt;
    long n = strtol(argv[i], NULL, 10);
    return n > 0 ? n : dflt;
}
#endif
