/* Uncontended futex wake: FUTEX_WAKE_PRIVATE on a word nobody waits on.
 * Prints ns per call.
 *   futexwake [SECONDS]   (measuring budget, default 0.5) */
#define _GNU_SOURCE
#include "common.h"
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

static int word;

static int op(long n, void *ctx)
{
    (void)ctx;
    for (long i = 0; i < n; i++)
        if (syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0) != 0)
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    double ns = per_op_ns(op, NULL, arg_budget_ns(argc, argv, 1));
    if (ns < 0) {
        perror("futex");
        return 1;
    }
    printf("%.1f\n", ns);
    return 0;
}
