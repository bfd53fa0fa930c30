/* TCP over loopback between two processes (a forked child serves):
 *   tcp rr [SECONDS]      1-byte request/response round trips; prints us per round trip
 *   tcp conn [SECONDS]    connect+accept+close; prints us per connection
 *   tcp stream [SECONDS]  the parent sends 64 KiB writes; prints MB/s (10^6 bytes/s)
 * (default 0.5 s).  Both ends run the same way (both native or both under myst). */
#include "common.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHUNK (64 * 1024)

static int listener(struct sockaddr_in *a)
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof *a;
    if (l < 0 || bind(l, (struct sockaddr *)a, sizeof *a) || listen(l, 128) || getsockname(l, (struct sockaddr *)a, &len)) {
        perror("listener");
        return -1;
    }
    return l;
}

static int dial(const struct sockaddr_in *a)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0 || connect(s, (const struct sockaddr *)a, sizeof *a)) {
        perror("connect");
        return -1;
    }
    int one = 1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return s;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: tcp rr|conn|stream [SECONDS]\n");
        return 2;
    }
    const char *mode = argv[1];
    double budget = arg_budget_ns(argc - 1, argv + 1, 1);
    struct sockaddr_in a;
    int l = listener(&a);
    if (l < 0)
        return 1;
    static char buf[CHUNK];
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        /* the server: answer until the parent kills it */
        for (;;) {
            int c = accept(l, NULL, NULL);
            if (c < 0)
                _exit(1);
            int one = 1;
            setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            for (;;) {
                ssize_t r = read(c, buf, sizeof buf);
                if (r <= 0)
                    break;
                if (strcmp(mode, "rr") == 0 && write(c, buf, (size_t)r) != r)
                    break;
            }
            close(c);
        }
    }
    close(l);
    long long n = 0, bytes = 0;
    double t0 = now_ns(), el = 0;
    if (strcmp(mode, "rr") == 0) {
        int s = dial(&a);
        if (s < 0)
            return 1;
        do {
            for (int k = 0; k < 100; k++) {
                char b = 'x';
                if (write(s, &b, 1) != 1 || read(s, &b, 1) != 1) {
                    perror("rr");
                    return 1;
                }
            }
            n += 100;
        } while ((el = now_ns() - t0) < budget);
        close(s);
        printf("%.2f\n", el / n / 1000.0);
    } else if (strcmp(mode, "conn") == 0) {
        do {
            for (int k = 0; k < 20; k++) {
                int s = dial(&a);
                if (s < 0)
                    return 1;
                close(s);
            }
            n += 20;
        } while ((el = now_ns() - t0) < budget);
        printf("%.2f\n", el / n / 1000.0);
    } else {
        int s = dial(&a);
        if (s < 0)
            return 1;
        memset(buf, 0x5a, sizeof buf);
        do {
            for (int k = 0; k < 16; k++) {
                size_t off = 0;
                while (off < sizeof buf) {
                    ssize_t w = write(s, buf + off, sizeof buf - off);
                    if (w <= 0) {
                        perror("stream");
                        return 1;
                    }
                    off += (size_t)w;
                }
                bytes += CHUNK;
            }
        } while ((el = now_ns() - t0) < budget);
        close(s);
        printf("%.1f\n", bytes / (el / 1e9) / 1e6);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return 0;
}
