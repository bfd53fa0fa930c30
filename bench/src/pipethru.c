/* Pipe throughput between two processes: a forked child writes 64 KiB
 * chunks into a pipe for SECONDS, the parent reads them (64 KiB reads)
 * until EOF.  Prints MB/s (10^6 bytes/s), timed by the reader from its
 * first byte to EOF.
 *   pipethru [SECONDS]   (default 0.5) */
#include "common.h"
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHUNK (64 * 1024)

int main(int argc, char **argv)
{
    double budget = arg_budget_ns(argc, argv, 1);
    static char buf[CHUNK];
    int p[2];
    if (pipe(p)) {
        perror("pipe");
        return 1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        close(p[0]);
        memset(buf, 0x5a, sizeof buf);
        double t0 = now_ns();
        do {
            for (int k = 0; k < 16; k++) {
                size_t off = 0;
                while (off < sizeof buf) {
                    ssize_t w = write(p[1], buf + off, sizeof buf - off);
                    if (w <= 0)
                        _exit(1);
                    off += (size_t)w;
                }
            }
        } while (now_ns() - t0 < budget);
        close(p[1]);
        _exit(0);
    }
    close(p[1]);
    long long total = 0;
    double t0 = 0;
    unsigned sum = 0;
    for (;;) {
        ssize_t r = read(p[0], buf, sizeof buf);
        if (r < 0) {
            perror("read");
            return 1;
        }
        if (r == 0)
            break;
        if (total == 0)
            t0 = now_ns();
        sum += (unsigned char)buf[r - 1];
        total += r;
    }
    double t1 = now_ns();
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "pipethru: writer failed\n");
        return 1;
    }
    if (total == 0 || sum == 0)
        return 1;
    printf("%.1f\n", (double)total / 1e6 / ((t1 - t0) / 1e9));
    return 0;
}
