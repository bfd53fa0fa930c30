/* An edge-triggered epoll echo server on 127.0.0.1 (an ephemeral port): one thread,
 * non-blocking sockets, EPOLLET on the listener and every connection, reads and writes
 * until EAGAIN as edge-triggered code must.  Prints "listening PORT", then serves until
 * killed; on SIGTERM prints "served N connections, M bytes, max K open at once" and exits.
 *   epoll_server */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAXEV 256
#define BUF 65536

/* bytes received but not yet echoed back, per fd */
struct conn {
    char *pending;
    size_t len;
};

static struct conn *conns;
static int nconns_cap;

static int flush_conn(int fd)
{
    struct conn *c = &conns[fd];
    while (c->len > 0) {
        ssize_t w = write(fd, c->pending, c->len);
        if (w < 0)
            return errno == EAGAIN ? 0 : -1;
        memmove(c->pending, c->pending + w, c->len - (size_t)w);
        c->len -= (size_t)w;
    }
    return 0;
}

int main(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    int sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);

    int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    if (l < 0 || sfd < 0 || bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 1024) ||
        getsockname(l, (struct sockaddr *)&a, &alen)) {
        perror("epoll_server: setup");
        return 1;
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.fd = l};
    epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
    ev.events = EPOLLIN;
    ev.data.fd = sfd;
    epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
    printf("listening %d\n", ntohs(a.sin_port));
    fflush(stdout);

    nconns_cap = 65536;
    conns = calloc((size_t)nconns_cap, sizeof *conns);
    static char buf[BUF];
    long served = 0, bytes = 0;
    int open_now = 0, open_max = 0;
    struct epoll_event evs[MAXEV];
    for (;;) {
        int n = epoll_wait(ep, evs, MAXEV, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == sfd) {
                printf("served %ld connections, %ld bytes, max %d open at once\n", served, bytes, open_max);
                return 0;
            }
            if (fd == l) {
                for (;;) {
                    int c = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (c < 0)
                        break; /* EAGAIN: the edge is consumed */
                    if (c >= nconns_cap) {
                        close(c);
                        continue;
                    }
                    struct epoll_event ce = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
                    served++;
                    if (++open_now > open_max)
                        open_max = open_now;
                }
                continue;
            }
            int dead = 0;
            if (evs[i].events & EPOLLIN) {
                for (;;) {
                    ssize_t r = read(fd, buf, sizeof buf);
                    if (r > 0) {
                        struct conn *c = &conns[fd];
                        c->pending = realloc(c->pending, c->len + (size_t)r);
                        memcpy(c->pending + c->len, buf, (size_t)r);
                        c->len += (size_t)r;
                        bytes += r;
                        if (flush_conn(fd) < 0) {
                            dead = 1;
                            break;
                        }
                        continue;
                    }
                    if (r == 0 || errno != EAGAIN)
                        dead = 1;
                    break;
                }
            }
            if (!dead && (evs[i].events & EPOLLOUT) && flush_conn(fd) < 0)
                dead = 1;
            if (!dead && (evs[i].events & (EPOLLHUP | EPOLLERR)))
                dead = 1;
            if (dead) {
                epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
                close(fd);
                free(conns[fd].pending);
                conns[fd].pending = NULL;
                conns[fd].len = 0;
                open_now--;
            }
        }
    }
}
