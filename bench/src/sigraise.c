/* Signal delivery round trip: raise(SIGUSR1) to self with a handler
 * installed (send, deliver, run the handler, sigreturn).  Prints ns per
 * signal.
 *   sigraise [SECONDS]   (measuring budget, default 0.5) */
#include "common.h"
#include <signal.h>
#include <string.h>

static volatile sig_atomic_t caught;

static void handler(int sig)
{
    (void)sig;
    caught++;
}

static int op(long n, void *ctx)
{
    (void)ctx;
    for (long i = 0; i < n; i++) {
        sig_atomic_t before = caught;
        if (raise(SIGUSR1) != 0 || caught != before + 1)
            return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGUSR1, &sa, NULL)) {
        perror("sigaction");
        return 1;
    }
    double ns = per_op_ns(op, NULL, arg_budget_ns(argc, argv, 1));
    if (ns < 0) {
        fprintf(stderr, "sigraise: signal not delivered\n");
        return 1;
    }
    printf("%.1f\n", ns);
    return 0;
}
