/* fork + execve of PROGRAM (no arguments) + waitpid; the child's exit
 * status must be 0.  Prints microseconds per child.
 *   forkexec PROGRAM [SECONDS]   (measuring budget, default 0.5) */
#include "common.h"
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int op(long n, void *ctx)
{
    char *path = ctx;
    char *args[] = {path, NULL};
    for (long i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 1;
        }
        if (pid == 0) {
            execve(path, args, environ);
            _exit(127);
        }
        int st;
        if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "forkexec: bad wait status %#x\n", st);
            return 1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: forkexec PROGRAM [SECONDS]\n");
        return 2;
    }
    double ns = per_op_ns(op, argv[1], arg_budget_ns(argc, argv, 2));
    if (ns < 0)
        return 1;
    printf("%.2f\n", ns / 1e3);
    return 0;
}
