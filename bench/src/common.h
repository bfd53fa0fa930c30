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

/* Time-budgeted measurement: op(n, ctx) does n operations and returns 0, or
 * non-zero on failure.  After one warm-up operation, op runs in batches
 * (growing at most 4x each time, sized to fill what is left) until at
 * least budget_ns of measured time has passed.  Returns the mean ns per
 * operation, or -1 if op failed. */
typedef int (*bench_op)(long n, void *ctx);

static inline double per_op_ns(bench_op op, void *ctx, double budget_ns)
{
    if (op(1, ctx))
        return -1;
    long done = 0, batch = 1;
    double spent = 0;
    while (spent < budget_ns) {
        double t0 = now_ns();
        if (op(batch, ctx))
            return -1;
        spent += now_ns() - t0;
        done += batch;
        double left = budget_ns - spent, per = spent / (double)done;
        long next = per > 0 ? (long)(left / per) + 1 : batch * 4;
        if (next > batch * 4)
            next = batch * 4;
        batch = next < 1 ? 1 : next;
    }
    return spent / (double)done;
}

/* Measuring budget in ns from argument i (seconds, default 0.5). */
static inline double arg_budget_ns(int argc, char **argv, int i)
{
    double s = argc > i ? strtod(argv[i], NULL) : 0;
    return (s > 0 ? s : 0.5) * 1e9;
}
#endif
