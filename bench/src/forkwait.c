/* fork + _exit + waitpid: prints microseconds per child.
 *   forkwait [SECONDS]   (measuring budget, default 0.5) */
#include "common.h"
#include <sys/wait.h>
#include <unistd.h>

static int op(long n, void *ctx)
{
    (void)ctx;
    for (long i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 1;
        }
        if (pid == 0)
            _exit(7);
        int st;
        if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 7) {
            fprintf(stderr, "forkwait: bad wait status\n");
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
