/* select and poll on mixed descriptors: a pipe, TCP and AF_UNIX sockets, an
 * eventfd; wake-ups from another thread, timeouts, POLLNVAL and EBADF. */
#include "t.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>

static long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int pfd[2], efd, tcp_c, tcp_s, ux[2];

static void tcp_pair(void)
{
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;
    CHECK_EQ(bind(ls, (struct sockaddr *)&a, al), 0);
    CHECK_EQ(getsockname(ls, (struct sockaddr *)&a, &al), 0);
    CHECK_EQ(listen(ls, 1), 0);
    tcp_c = socket(AF_INET, SOCK_STREAM, 0);
    CHECK_EQ(connect(tcp_c, (struct sockaddr *)&a, al), 0);
    tcp_s = accept(ls, NULL, NULL);
    CHECK(tcp_s >= 0);
    close(ls);
}

static int which;
static void *poke(void *arg)
{
    (void)arg;
    usleep(50000);
    uint64_t one = 1;
    switch (which) {
    case 0: write(pfd[1], "p", 1); break;
    case 1: write(tcp_c, "t", 1); break;
    case 2: write(efd, &one, 8); break;
    case 3: write(ux[1], "u", 1); break;
    }
    return NULL;
}

static void drain(int fd)
{
    char b[16];
    read(fd, b, sizeof b);
}

int main(void)
{
    CHECK_EQ(pipe(pfd), 0);
    efd = eventfd(0, 0);
    CHECK(efd >= 0);
    tcp_pair();
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, ux), 0);
    int rd[4] = { pfd[0], tcp_s, efd, ux[0] };

    t_section("poll: writable, nothing readable");
    struct pollfd p[6];
    for (int i = 0; i < 4; i++)
        p[i] = (struct pollfd){ .fd = rd[i], .events = POLLIN };
    p[4] = (struct pollfd){ .fd = tcp_s, .events = POLLOUT };
    p[5] = (struct pollfd){ .fd = pfd[1], .events = POLLOUT };
    CHECK_EQ(poll(p, 6, 0), 2);
    CHECK_EQ(p[4].revents, POLLOUT);
    CHECK_EQ(p[5].revents, POLLOUT);
    long t0 = now_ms();
    CHECK_EQ(poll(p, 4, 100), 0);
    CHECK(now_ms() - t0 >= 90);

    t_section("poll: woken by each kind");
    for (which = 0; which < 4; which++) {
        pthread_t th;
        pthread_create(&th, NULL, poke, NULL);
        CHECK_EQ(poll(p, 4, 5000), 1);
        for (int i = 0; i < 4; i++)
            CHECK_EQ(p[i].revents, i == which ? POLLIN : 0);
        pthread_join(th, NULL);
        drain(rd[which]);
    }

    t_section("select: woken by each kind");
    int maxfd = 0;
    for (int i = 0; i < 4; i++)
        if (rd[i] > maxfd)
            maxfd = rd[i];
    for (which = 0; which < 4; which++) {
        pthread_t th;
        pthread_create(&th, NULL, poke, NULL);
        fd_set r, w;
        FD_ZERO(&r);
        FD_ZERO(&w);
        for (int i = 0; i < 4; i++)
            FD_SET(rd[i], &r);
        struct timeval tv = { 5, 0 };
        CHECK_EQ(select(maxfd + 1, &r, &w, NULL, &tv), 1);
        for (int i = 0; i < 4; i++)
            CHECK_EQ(!!FD_ISSET(rd[i], &r), i == which);
        pthread_join(th, NULL);
        drain(rd[which]);
    }

    t_section("select: writable and timeout");
    fd_set r, w;
    FD_ZERO(&r);
    FD_ZERO(&w);
    FD_SET(tcp_c, &w);
    FD_SET(ux[0], &w);
    FD_SET(tcp_s, &r);
    struct timeval tv = { 0, 0 };
    int hi = tcp_c > ux[0] ? tcp_c : ux[0];
    hi = hi > tcp_s ? hi : tcp_s;
    CHECK_EQ(select(hi + 1, &r, &w, NULL, &tv), 2);
    CHECK(FD_ISSET(tcp_c, &w) && FD_ISSET(ux[0], &w) && !FD_ISSET(tcp_s, &r));
    FD_ZERO(&r);
    FD_SET(tcp_s, &r);
    tv.tv_usec = 100000;
    t0 = now_ms();
    CHECK_EQ(select(tcp_s + 1, &r, NULL, NULL, &tv), 0);
    CHECK(now_ms() - t0 >= 90);
    struct timespec ts = { 0, 20000000 };
    FD_SET(tcp_s, &r);
    CHECK_EQ(pselect(tcp_s + 1, &r, NULL, NULL, &ts, NULL), 0);

    t_section("hang-ups, POLLNVAL, EBADF");
    close(tcp_c);
    p[0] = (struct pollfd){ .fd = tcp_s, .events = POLLIN | POLLRDHUP };
    CHECK_EQ(poll(p, 1, 5000), 1);
    CHECK(p[0].revents & POLLIN);
    CHECK(p[0].revents & POLLRDHUP);
    close(ux[1]);
    p[0] = (struct pollfd){ .fd = ux[0], .events = POLLIN };
    CHECK_EQ(poll(p, 1, 5000), 1);
    CHECK(p[0].revents & (POLLIN | POLLHUP));
    int dead = dup(pfd[0]);
    close(dead);
    p[0] = (struct pollfd){ .fd = dead, .events = POLLIN };
    p[1] = (struct pollfd){ .fd = -1, .events = POLLIN };
    CHECK_EQ(poll(p, 2, 0), 1);
    CHECK_EQ(p[0].revents, POLLNVAL);
    CHECK_EQ(p[1].revents, 0);
    FD_ZERO(&r);
    FD_SET(dead, &r);
    tv.tv_sec = 0;
    tv.tv_usec = 0;
    CHECK_ERR(select(dead + 1, &r, NULL, NULL, &tv), EBADF);
    close(tcp_s);
    close(ux[0]);
    close(efd);
    close(pfd[0]);
    close(pfd[1]);
    return t_finish("selectpoll");
}
