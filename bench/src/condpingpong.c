/* pthread_cond ping-pong: the main thread and a peer hand a turn back and
 * forth under one mutex, each waiting on its own condition variable.
 * Prints microseconds per round trip (main -> peer -> main).
 *   condpingpong [SECONDS]   (measuring budget, default 0.5) */
#include "common.h"
#include <pthread.h>
#include <string.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t to_peer = PTHREAD_COND_INITIALIZER;
static pthread_cond_t to_main = PTHREAD_COND_INITIALIZER;
static int turn; /* 0: main's turn, 1: peer's turn */
static int stop;

static void *peer(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&mu);
    for (;;) {
        while (turn != 1 && !stop)
            pthread_cond_wait(&to_peer, &mu);
        if (stop)
            break;
        turn = 0;
        pthread_cond_signal(&to_main);
    }
    pthread_mutex_unlock(&mu);
    return NULL;
}

static int op(long n, void *ctx)
{
    (void)ctx;
    pthread_mutex_lock(&mu);
    for (long i = 0; i < n; i++) {
        turn = 1;
        pthread_cond_signal(&to_peer);
        while (turn != 0)
            pthread_cond_wait(&to_main, &mu);
    }
    pthread_mutex_unlock(&mu);
    return 0;
}

int main(int argc, char **argv)
{
    pthread_t t;
    int e = pthread_create(&t, NULL, peer, NULL);
    if (e) {
        fprintf(stderr, "pthread_create: %s\n", strerror(e));
        return 1;
    }
    double ns = per_op_ns(op, NULL, arg_budget_ns(argc, argv, 1));
    pthread_mutex_lock(&mu);
    stop = 1;
    pthread_cond_signal(&to_peer);
    pthread_mutex_unlock(&mu);
    pthread_join(t, NULL);
    if (ns < 0)
        return 1;
    printf("%.2f\n", ns / 1e3);
    return 0;
}
