/* TCP over loopback, IPv4 and IPv6: echo server and client (threads and fork),
 * non-blocking connect, names, options, shutdown semantics, a bulk transfer. */
#include "t.h"
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

static int fam;

static socklen_t mkaddr(struct sockaddr_storage *ss, int port)
{
    memset(ss, 0, sizeof *ss);
    if (fam == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        a->sin_family = AF_INET;
        a->sin_port = htons(port);
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        return sizeof *a;
    }
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    a->sin6_addr = in6addr_loopback;
    return sizeof *a;
}

static int port_of(int fd)
{
    struct sockaddr_storage ss;
    socklen_t l = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &l) != 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

static int listener(void)
{
    int s = socket(fam, SOCK_STREAM, 0);
    CHECK(s >= 0);
    int one = 1;
    CHECK_EQ(setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), 0);
    struct sockaddr_storage ss;
    socklen_t l = mkaddr(&ss, 0);
    CHECK_EQ(bind(s, (struct sockaddr *)&ss, l), 0);
    CHECK_EQ(listen(s, 16), 0);
    return s;
}

static int connect_to(int port)
{
    int c = socket(fam, SOCK_STREAM, 0);
    struct sockaddr_storage ss;
    socklen_t l = mkaddr(&ss, port);
    if (connect(c, (struct sockaddr *)&ss, l) != 0) {
        close(c);
        return -1;
    }
    return c;
}

static int readn(int fd, char *b, int n)
{
    int got = 0;
    while (got < n) {
        ssize_t r = read(fd, b + got, n - got);
        if (r <= 0)
            return got;
        got += r;
    }
    return got;
}

static int g_port;
/* Runs in a thread or a child: counts its own problems (the check counters
 * are not shared safely between threads). */
static void *client(void *arg)
{
    (void)arg;
    long bad = 0;
    int c = connect_to(g_port);
    if (c < 0)
        return (void *)1;
    for (int i = 0; i < 5; i++) {
        char msg[32], back[32];
        int n = snprintf(msg, sizeof msg, "hello %d", i);
        bad += write(c, msg, n) != n;
        bad += readn(c, back, n) != n;
        bad += memcmp(msg, back, n) != 0;
    }
    bad += shutdown(c, SHUT_WR) != 0;
    char b[8];
    bad += read(c, b, sizeof b) != 0; /* server closes after our EOF */
    close(c);
    return (void *)bad;
}

static void echo_one(int s)
{
    struct sockaddr_storage peer;
    socklen_t pl = sizeof peer;
    int a = accept(s, (struct sockaddr *)&peer, &pl);
    CHECK(a >= 0);
    CHECK_EQ(peer.ss_family, fam);
    struct sockaddr_storage p2;
    socklen_t l2 = sizeof p2;
    CHECK_EQ(getpeername(a, (struct sockaddr *)&p2, &l2), 0);
    CHECK_EQ(l2, pl);
    char buf[256];
    ssize_t n;
    int bad = 0;
    while ((n = read(a, buf, sizeof buf)) > 0)
        bad += write(a, buf, n) != n;
    CHECK_EQ(n, 0);
    CHECK_EQ(bad, 0);
    close(a);
}

static void test_echo_thread(void)
{
    int s = listener();
    g_port = port_of(s);
    CHECK(g_port > 0);
    pthread_t t;
    pthread_create(&t, NULL, client, NULL);
    echo_one(s);
    void *rv;
    pthread_join(t, &rv);
    CHECK(rv == NULL);
    close(s);
}

static void test_echo_fork(void)
{
    int s = listener();
    g_port = port_of(s);
    pid_t pid = fork();
    if (pid == 0) {
        close(s);
        _exit(client(NULL) ? 1 : 0);
    }
    echo_one(s);
    int st;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(s);
}

/* The parent accepts, a forked child serves the connection, the parent closes
 * its copy: the client sees the end when the child closes. */
static void test_fork_server(void)
{
    int s = listener();
    int port = port_of(s);
    int c = connect_to(port);
    CHECK(c >= 0);
    int a = accept(s, NULL, NULL);
    CHECK(a >= 0);
    pid_t pid = fork();
    if (pid == 0) {
        char b[16];
        int n = read(a, b, sizeof b);
        if (n > 0)
            write(a, b, n);
        close(a);
        _exit(0);
    }
    close(a);
    CHECK_EQ(write(c, "ping", 4), 4);
    char b[16];
    CHECK_EQ(readn(c, b, 4), 4);
    CHECK_EQ(read(c, b, sizeof b), 0);
    int st;
    waitpid(pid, &st, 0);
    close(c);
    close(s);
}

static void test_nonblocking_connect(void)
{
    int s = listener();
    int port = port_of(s);
    int c = socket(fam, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_storage ss;
    socklen_t l = mkaddr(&ss, port);
    int r = connect(c, (struct sockaddr *)&ss, l);
    CHECK(r == 0 || errno == EINPROGRESS);
    struct pollfd p = { .fd = c, .events = POLLOUT };
    CHECK_EQ(poll(&p, 1, 5000), 1);
    CHECK(p.revents & POLLOUT);
    int err = -1;
    socklen_t el = sizeof err;
    CHECK_EQ(getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el), 0);
    CHECK_EQ(err, 0);
    int a = accept4(s, NULL, NULL, SOCK_CLOEXEC);
    CHECK(a >= 0);
    CHECK_EQ(fcntl(a, F_GETFD), FD_CLOEXEC);
    /* nothing to read yet on a non-blocking socket */
    char b[4];
    CHECK_ERR(read(c, b, sizeof b), EAGAIN);
    CHECK_ERR(recv(c, b, sizeof b, MSG_DONTWAIT), EAGAIN);
    CHECK_EQ(send(a, "xy", 2, 0), 2);
    CHECK_EQ(poll(&p, 1, 0), 1);
    p.events = POLLIN;
    CHECK_EQ(poll(&p, 1, 5000), 1);
    int avail = -1;
    CHECK_EQ(ioctl(c, FIONREAD, &avail), 0);
    CHECK_EQ(avail, 2);
    CHECK_EQ(recv(c, b, 1, MSG_PEEK), 1);
    CHECK_EQ(recv(c, b, sizeof b, 0), 2);
    CHECK(b[0] == 'x' && b[1] == 'y');
    /* non-blocking accept with nothing pending */
    int fl = fcntl(s, F_GETFL);
    fcntl(s, F_SETFL, fl | O_NONBLOCK);
    CHECK_ERR(accept(s, NULL, NULL), EAGAIN);
    close(a);
    close(c);
    close(s);
}

static void test_refused_and_options(void)
{
    int s = socket(fam, SOCK_STREAM, 0);
    struct sockaddr_storage ss;
    socklen_t l = mkaddr(&ss, 0);
    CHECK_EQ(bind(s, (struct sockaddr *)&ss, l), 0);
    int port = port_of(s);
    close(s);
    CHECK_ERR(connect_to(port), ECONNREFUSED);
    int c = socket(fam, SOCK_STREAM, 0);
    int v = -1;
    socklen_t vl = sizeof v;
    CHECK_EQ(getsockopt(c, SOL_SOCKET, SO_TYPE, &v, &vl), 0);
    CHECK_EQ(v, SOCK_STREAM);
    vl = sizeof v;
    CHECK_EQ(getsockopt(c, SOL_SOCKET, SO_DOMAIN, &v, &vl), 0);
    CHECK_EQ(v, fam);
    int one = 1;
    CHECK_EQ(setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), 0);
    vl = sizeof v;
    CHECK_EQ(getsockopt(c, IPPROTO_TCP, TCP_NODELAY, &v, &vl), 0);
    CHECK(v != 0);
    CHECK_EQ(setsockopt(c, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one), 0);
    vl = sizeof v;
    CHECK_EQ(getsockopt(c, SOL_SOCKET, SO_ACCEPTCONN, &v, &vl), 0);
    CHECK_EQ(v, 0);
    struct timeval tv = { 0, 200000 };
    CHECK_EQ(setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    struct timeval tv2;
    socklen_t tl = sizeof tv2;
    CHECK_EQ(getsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv2, &tl), 0);
    CHECK(tv2.tv_sec == 0 && tv2.tv_usec == 200000);
    CHECK_ERR(getsockopt(c, SOL_SOCKET, 9999, &v, &vl), ENOPROTOOPT);
    CHECK_ERR(getpeername(c, (struct sockaddr *)&ss, &l), ENOTCONN);
    if (fam == AF_INET6) {
        vl = sizeof v;
        CHECK_EQ(setsockopt(c, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one), 0);
        CHECK_EQ(getsockopt(c, IPPROTO_IPV6, IPV6_V6ONLY, &v, &vl), 0);
        CHECK_EQ(v, 1);
    }
    close(c);
    /* receive timeout */
    int ls = listener();
    c = connect_to(port_of(ls));
    int a = accept(ls, NULL, NULL);
    CHECK_EQ(setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    char b[4];
    CHECK_ERR(read(c, b, sizeof b), EAGAIN);
    /* write after the peer is gone: EPIPE (SIGPIPE ignored) */
    signal(SIGPIPE, SIG_IGN);
    close(a);
    CHECK_EQ(read(c, b, sizeof b), 0);
    int gotpipe = 0;
    for (int i = 0; i < 50 && !gotpipe; i++) {
        if (send(c, "abcd", 4, MSG_NOSIGNAL) < 0)
            gotpipe = errno == EPIPE || errno == ECONNRESET;
        usleep(1000);
    }
    CHECK(gotpipe);
    close(c);
    close(ls);
}

static void *bulk_writer(void *arg)
{
    int fd = *(int *)arg;
    static char buf[65536];
    for (int i = 0; i < 16; i++) {
        memset(buf, 'a' + i, sizeof buf);
        size_t off = 0;
        while (off < sizeof buf) {
            ssize_t n = write(fd, buf + off, sizeof buf - off);
            if (n <= 0)
                return NULL;
            off += n;
        }
    }
    shutdown(fd, SHUT_WR);
    return NULL;
}

static void test_bulk(void)
{
    int s = listener();
    int c = connect_to(port_of(s));
    int a = accept(s, NULL, NULL);
    pthread_t t;
    pthread_create(&t, NULL, bulk_writer, &c);
    long total = 0, sum = 0;
    char buf[10000];
    ssize_t n;
    while ((n = read(a, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++)
            sum += buf[i];
        total += n;
    }
    pthread_join(t, NULL);
    CHECK_EQ(total, 16 * 65536);
    long want = 0;
    for (int i = 0; i < 16; i++)
        want += (long)('a' + i) * 65536;
    CHECK_EQ(sum, want);
    close(a);
    close(c);
    close(s);
}

int main(void)
{
    int fams[2] = { AF_INET, AF_INET6 };
    for (int i = 0; i < 2; i++) {
        fam = fams[i];
        printf("== %s\n", fam == AF_INET ? "IPv4" : "IPv6");
        t_section("echo with a thread");
        test_echo_thread();
        t_section("echo with fork");
        test_echo_fork();
        t_section("forked server");
        test_fork_server();
        t_section("non-blocking connect");
        test_nonblocking_connect();
        t_section("refused, options, timeouts, EPIPE");
        test_refused_and_options();
        t_section("bulk");
        test_bulk();
    }
    return t_finish("net_tcp");
}
