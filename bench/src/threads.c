/* Thread create + join: pthread_create of a thread that returns at once,
 * then pthread_join.  Prints microseconds per pair.
 *   threads [SECONDS]   (measuring budget, default 0.5) */
#include "common.h"
#include <pthread.h>
#include <string.h>

static void *body(void *arg)
{
    return arg;
}

static int op(long n, void *ctx)
{
    (void)ctx;
    for (long i = 0; i < n; i++) {
        pthread_t t;
        void *ret = NULL;
        int e = pthread_create(&t, NULL, body, (void *)(i + 1));
        if (e) {
            fprintf(stderr, "pthread_create: %s\n", strerror(e));
            return 1;
        }
        e = pthread_join(t, &ret);
        if (e || ret != (void *)(i + 1)) {
            fprintf(stderr, "pthread_join: %s\n", strerror(e));
            return 1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    double ns = per_op_ns(op, NULL, arg_budget_ns(argc, argv, 1));
    if (ns < 0)
        return 1;
    printf("%.2f\n", ns / 1e3);
    return 0;
}
