/* epoll: level and edge triggered on pipes and sockets, EPOLLONESHOT, timeouts,
 * eventfd and timerfd, nesting, EPOLLRDHUP, errors, EINTR, and a server
 * handling 200 concurrent connections from threads. */
#include "t.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <time.h>

static long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int add(int ep, int fd, unsigned ev)
{
    struct epoll_event e = { .events = ev, .data.fd = fd };
    return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
}

static void test_pipe_modes(void)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    CHECK(ep >= 0);
    int p[2], q[2], r[2];
    CHECK_EQ(pipe(p), 0);
    CHECK_EQ(pipe(q), 0);
    CHECK_EQ(pipe(r), 0);
    CHECK_EQ(add(ep, p[0], EPOLLIN), 0);
    CHECK_EQ(add(ep, q[0], EPOLLIN | EPOLLET), 0);
    CHECK_EQ(add(ep, r[0], EPOLLIN | EPOLLONESHOT), 0);
    struct epoll_event ev[8];
    CHECK_EQ(epoll_wait(ep, ev, 8, 0), 0);
    /* level */
    CHECK_EQ(write(p[1], "a", 1), 1);
    CHECK_EQ(epoll_wait(ep, ev, 8, 1000), 1);
    CHECK_EQ(ev[0].data.fd, p[0]);
    CHECK_EQ(ev[0].events, EPOLLIN);
    CHECK_EQ(epoll_wait(ep, ev, 8, 0), 1);
    char b[8];
    CHECK_EQ(read(p[0], b, sizeof b), 1);
    CHECK_EQ(epoll_wait(ep, ev, 8, 0), 0);
    /* edge */
    CHECK_EQ(write(q[1], "bb", 2), 2);
    CHECK_EQ(epoll_wait(ep, ev, 8, 1000), 1);
    CHECK_EQ(ev[0].data.fd, q[0]);
    CHECK_EQ(epoll_wait(ep, ev, 8, 0), 0);
    CHECK_EQ(read(q[0], b, sizeof b), 2);
    CHECK_EQ(write(q[1], "c", 1), 1);
    CHECK_EQ(epoll_wait(ep, ev, 8, 1000), 1);
    CHECK_EQ(read(q[0], b, sizeof b), 1);
    /* one-shot */
    CHECK_EQ(write(r[1], "d", 1), 1);
    CHECK_EQ(epoll_wait(ep, ev, 8, 1000), 1);
    CHECK_EQ(ev[0].data.fd, r[0]);
    CHECK_EQ(epoll_wait(ep, ev, 8, 0), 0);
    struct epoll_event m = { .events = EPOLLIN | EPOLLONESHOT, .data.fd = r[0] };
    CHECK_EQ(epoll_ctl(ep, EPOLL_CTL_MOD, r[0], &m), 0);
    CHECK_EQ(epoll_wait(ep, ev, 8, 0), 1);
    /* hang-up */
    close(p[1]);
    CHECK_EQ(epoll_wait(ep, ev, 8, 0), 1);
    CHECK_EQ(ev[0].events, EPOLLHUP);
    /* closing the last descriptor removes the item */
    close(p[0]);
    CHECK_EQ(epoll_wait(ep, ev, 8, 0), 0);
    /* maxevents */
    CHECK_EQ(write(q[1], "e", 1), 1);
    m.events = EPOLLIN;
    m.data.fd = r[0];
    CHECK_EQ(epoll_ctl(ep, EPOLL_CTL_MOD, r[0], &m), 0);
    CHECK_EQ(epoll_wait(ep, ev, 1, 0), 1);
    CHECK_EQ(epoll_wait(ep, ev, 8, 0), 1);
    /* errors */
    CHECK_ERR(add(ep, q[0], EPOLLIN), EEXIST);
    CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_DEL, q[1] + 100, NULL), EBADF);
    CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_DEL, q[1], NULL), ENOENT);
    CHECK_ERR(add(ep, ep, EPOLLIN), EINVAL);
    CHECK_ERR(epoll_wait(ep, ev, 0, 0), EINVAL);
    CHECK_ERR(epoll_wait(q[0], ev, 1, 0), EINVAL);
    t_mkdir("epoll");
    int f = open(t_path("file"), O_CREAT | O_RDWR, 0644);
    CHECK_ERR(add(ep, f, EPOLLIN), EPERM);
    close(f);
    t_cleanup();
    CHECK_EQ(epoll_ctl(ep, EPOLL_CTL_DEL, q[0], NULL), 0);
    close(q[0]), close(q[1]), close(r[0]), close(r[1]);
    close(ep);
}

static void test_timeouts_and_event_fds(void)
{
    int ep = epoll_create(1);
    struct epoll_event ev[4];
    long t0 = now_ms();
    CHECK_EQ(epoll_wait(ep, ev, 4, 100), 0);
    CHECK(now_ms() - t0 >= 90);
    int efd = eventfd(0, EFD_NONBLOCK);
    CHECK_EQ(add(ep, efd, EPOLLIN), 0);
    CHECK_EQ(epoll_wait(ep, ev, 4, 0), 0);
    uint64_t one = 1;
    CHECK_EQ(write(efd, &one, 8), 8);
    CHECK_EQ(epoll_wait(ep, ev, 4, 0), 1);
    CHECK_EQ(read(efd, &one, 8), 8);
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    struct itimerspec its = { { 0, 0 }, { 0, 50 * 1000000 } };
    CHECK_EQ(timerfd_settime(tfd, 0, &its, NULL), 0);
    CHECK_EQ(add(ep, tfd, EPOLLIN), 0);
    t0 = now_ms();
    CHECK_EQ(epoll_wait(ep, ev, 4, 5000), 1);
    CHECK_EQ(ev[0].data.fd, tfd);
    CHECK(now_ms() - t0 >= 40);
    /* nesting: an epoll fd is pollable */
    int outer = epoll_create1(0);
    CHECK_EQ(add(outer, ep, EPOLLIN), 0);
    CHECK_EQ(epoll_wait(outer, ev, 4, 0), 1);
    CHECK_ERR(add(ep, outer, EPOLLIN), ELOOP);
    uint64_t x;
    CHECK_EQ(read(tfd, &x, 8), 8);
    CHECK_EQ(epoll_wait(outer, ev, 4, 0), 0);
    CHECK_EQ(write(efd, &one, 8), 8);
    CHECK_EQ(epoll_wait(outer, ev, 4, 1000), 1);
    close(outer);
    close(efd);
    close(tfd);
    close(ep);
}

static void test_sockets(void)
{
    int ep = epoll_create1(0);
    struct epoll_event ev[4];
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    CHECK_EQ(add(ep, sv[0], EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET), 0);
    CHECK_EQ(epoll_wait(ep, ev, 4, 0), 1);
    CHECK_EQ(ev[0].events, EPOLLOUT);
    CHECK_EQ(epoll_wait(ep, ev, 4, 0), 0);
    CHECK_EQ(write(sv[1], "z", 1), 1);
    CHECK_EQ(epoll_wait(ep, ev, 4, 1000), 1);
    CHECK(ev[0].events & EPOLLIN);
    CHECK_EQ(shutdown(sv[1], SHUT_WR), 0);
    CHECK_EQ(epoll_wait(ep, ev, 4, 1000), 1);
    CHECK(ev[0].events & EPOLLRDHUP);
    close(sv[0]);
    close(sv[1]);

    /* TCP over loopback */
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;
    CHECK_EQ(bind(ls, (struct sockaddr *)&a, al), 0);
    CHECK_EQ(getsockname(ls, (struct sockaddr *)&a, &al), 0);
    CHECK_EQ(listen(ls, 8), 0);
    CHECK_EQ(add(ep, ls, EPOLLIN), 0);
    CHECK_EQ(epoll_wait(ep, ev, 4, 0), 0);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    CHECK_EQ(connect(c, (struct sockaddr *)&a, al), 0);
    CHECK_EQ(epoll_wait(ep, ev, 4, 2000), 1);
    CHECK_EQ(ev[0].data.fd, ls);
    int s = accept(ls, NULL, NULL);
    CHECK_EQ(add(ep, s, EPOLLIN | EPOLLET), 0);
    CHECK_EQ(epoll_wait(ep, ev, 4, 0), 0);
    CHECK_EQ(write(c, "hello", 5), 5);
    CHECK_EQ(epoll_wait(ep, ev, 4, 2000), 1);
    CHECK_EQ(ev[0].data.fd, s);
    CHECK_EQ(epoll_wait(ep, ev, 4, 0), 0);
    char b[8];
    CHECK_EQ(read(s, b, sizeof b), 5);
    close(c);
    CHECK_EQ(epoll_wait(ep, ev, 4, 2000), 1);
    CHECK_EQ(read(s, b, sizeof b), 0);
    close(s);
    close(ls);
    close(ep);
}

static void on_alarm(int sig)
{
    (void)sig;
}

static void test_eintr(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = { { 0, 0 }, { 0, 50000 } };
    setitimer(ITIMER_REAL, &it, NULL);
    int ep = epoll_create1(0);
    int ls = socket(AF_INET, SOCK_STREAM, 0); /* a host socket in the set */
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    CHECK_EQ(bind(ls, (struct sockaddr *)&a, sizeof a), 0);
    CHECK_EQ(listen(ls, 1), 0);
    CHECK_EQ(add(ep, ls, EPOLLIN), 0);
    struct epoll_event ev;
    CHECK_ERR(epoll_wait(ep, &ev, 1, 5000), EINTR);
    close(ls);
    close(ep);
}

#define NCONN 200
#define NTHR 8
static struct sockaddr_in srv;

static void *client(void *arg)
{
    long id = (long)arg;
    int fds[NCONN / NTHR];
    for (int i = 0; i < NCONN / NTHR; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(fds[i], (struct sockaddr *)&srv, sizeof srv) != 0)
            return (void *)1;
    }
    for (int i = 0; i < NCONN / NTHR; i++) {
        char msg[16];
        snprintf(msg, sizeof msg, "%03ld-%02d", id, i);
        if (write(fds[i], msg, 6) != 6)
            return (void *)2;
    }
    for (int i = 0; i < NCONN / NTHR; i++) {
        char back[16];
        int got = 0;
        while (got < 6) {
            ssize_t n = read(fds[i], back + got, 6 - got);
            if (n <= 0)
                return (void *)3;
            got += n;
        }
        if (back[0] != 'R')
            return (void *)4;
        close(fds[i]);
    }
    return NULL;
}

static void test_server(void)
{
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    srv.sin_family = AF_INET;
    srv.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof srv;
    CHECK_EQ(bind(ls, (struct sockaddr *)&srv, sl), 0);
    CHECK_EQ(getsockname(ls, (struct sockaddr *)&srv, &sl), 0);
    CHECK_EQ(listen(ls, 256), 0);
    int ep = epoll_create1(0);
    CHECK_EQ(add(ep, ls, EPOLLIN | EPOLLET), 0);
    pthread_t th[NTHR];
    for (long i = 0; i < NTHR; i++)
        pthread_create(&th[i], NULL, client, (void *)i);
    int accepted = 0, closed = 0, answered = 0, odd = 0;
    struct epoll_event ev[64];
    while (closed < NCONN) {
        int n = epoll_wait(ep, ev, 64, 10000);
        if (n <= 0) {
            odd++;
            break;
        }
        for (int i = 0; i < n; i++) {
            int fd = ev[i].data.fd;
            if (fd == ls) {
                for (;;) {
                    int c = accept4(ls, NULL, NULL, SOCK_NONBLOCK);
                    if (c < 0) {
                        odd += errno != EAGAIN;
                        break;
                    }
                    accepted++;
                    odd += add(ep, c, EPOLLIN | EPOLLET | EPOLLRDHUP) != 0;
                }
                continue;
            }
            for (;;) {
                char b[64];
                ssize_t r = read(fd, b, sizeof b);
                if (r > 0) {
                    b[0] = 'R';
                    if (write(fd, b, r) == r)
                        answered++;
                    continue;
                }
                if (r == 0) {
                    close(fd);
                    closed++;
                } else {
                    odd += errno != EAGAIN;
                }
                break;
            }
        }
    }
    for (int i = 0; i < NTHR; i++) {
        void *rv;
        pthread_join(th[i], &rv);
        CHECK(rv == NULL);
    }
    CHECK_EQ(odd, 0);
    CHECK_EQ(accepted, NCONN);
    CHECK_EQ(answered, NCONN);
    CHECK_EQ(closed, NCONN);
    close(ep);
    close(ls);
}

int main(void)
{
    t_section("pipes: level, edge, one-shot, errors");
    test_pipe_modes();
    t_section("timeouts, eventfd, timerfd, nesting");
    test_timeouts_and_event_fds();
    t_section("sockets");
    test_sockets();
    t_section("EINTR");
    test_eintr();
    t_section("server, 200 connections");
    test_server();
    return t_finish("epoll");
}
