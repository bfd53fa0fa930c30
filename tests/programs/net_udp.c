/* UDP over loopback: ping-pong, recvfrom addresses, connected sockets,
 * sendmmsg/recvmmsg, truncation, non-blocking receive. */
#include "t.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

static int udp_sock(int fam, struct sockaddr_storage *ss, socklen_t *l)
{
    int s = socket(fam, SOCK_DGRAM, 0);
    CHECK(s >= 0);
    memset(ss, 0, sizeof *ss);
    if (fam == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        *l = sizeof *a;
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        *l = sizeof *a;
    }
    CHECK_EQ(bind(s, (struct sockaddr *)ss, *l), 0);
    socklen_t ll = sizeof *ss;
    CHECK_EQ(getsockname(s, (struct sockaddr *)ss, &ll), 0);
    CHECK_EQ(ll, *l);
    return s;
}

static void test(int fam)
{
    struct sockaddr_storage a1, a2, from;
    socklen_t l1, l2, fl;
    int s1 = udp_sock(fam, &a1, &l1);
    int s2 = udp_sock(fam, &a2, &l2);
    int v = 0;
    socklen_t vl = sizeof v;
    CHECK_EQ(getsockopt(s1, SOL_SOCKET, SO_TYPE, &v, &vl), 0);
    CHECK_EQ(v, SOCK_DGRAM);
    for (int i = 0; i < 10; i++) {
        char msg[32], buf[64];
        int n = snprintf(msg, sizeof msg, "ping %d", i);
        CHECK_EQ(sendto(s1, msg, n, 0, (struct sockaddr *)&a2, l2), n);
        fl = sizeof from;
        CHECK_EQ(recvfrom(s2, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl), n);
        CHECK(memcmp(buf, msg, n) == 0);
        CHECK_EQ(fl, l1);
        CHECK(memcmp(&from, &a1, l1) == 0);
        buf[0] = 'P';
        CHECK_EQ(sendto(s2, buf, n, 0, (struct sockaddr *)&from, fl), n);
        CHECK_EQ(recv(s1, buf, sizeof buf, 0), n);
        CHECK_EQ(buf[0], 'P');
    }
    /* truncation */
    CHECK_EQ(sendto(s1, "0123456789", 10, 0, (struct sockaddr *)&a2, l2), 10);
    char small[4];
    struct iovec iov = { small, sizeof small };
    struct msghdr mh = { 0 };
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    struct pollfd p = { .fd = s2, .events = POLLIN };
    CHECK_EQ(poll(&p, 1, 5000), 1);
    CHECK_EQ(recvmsg(s2, &mh, 0), 4);
    CHECK(mh.msg_flags & MSG_TRUNC);
    /* nothing left: the rest of the datagram is gone */
    CHECK_ERR(recv(s2, small, sizeof small, MSG_DONTWAIT), EAGAIN);
    /* connected UDP */
    CHECK_EQ(connect(s1, (struct sockaddr *)&a2, l2), 0);
    CHECK_EQ(send(s1, "c", 1, 0), 1);
    CHECK_EQ(poll(&p, 1, 5000), 1);
    CHECK_EQ(recv(s2, small, sizeof small, 0), 1);
    struct sockaddr_storage peer;
    socklen_t pl = sizeof peer;
    CHECK_EQ(getpeername(s1, (struct sockaddr *)&peer, &pl), 0);
    CHECK(pl == l2 && memcmp(&peer, &a2, l2) == 0);
    /* sendmmsg / recvmmsg */
    struct mmsghdr mm[3];
    struct iovec iv[3];
    char bufs[3][8];
    memset(mm, 0, sizeof mm);
    for (int i = 0; i < 3; i++) {
        snprintf(bufs[i], sizeof bufs[i], "m%d", i);
        iv[i].iov_base = bufs[i];
        iv[i].iov_len = 2;
        mm[i].msg_hdr.msg_iov = &iv[i];
        mm[i].msg_hdr.msg_iovlen = 1;
    }
    CHECK_EQ(sendmmsg(s1, mm, 3, 0), 3);
    CHECK_EQ(mm[2].msg_len, 2);
    memset(bufs, 0, sizeof bufs);
    for (int i = 0; i < 3; i++)
        iv[i].iov_len = 8;
    int got = 0;
    for (int tries = 0; tries < 100 && got < 3; tries++) {
        CHECK_EQ(poll(&p, 1, 5000), 1);
        int r = recvmmsg(s2, mm + got, 3 - got, MSG_DONTWAIT, NULL);
        if (r > 0)
            got += r;
    }
    CHECK_EQ(got, 3);
    CHECK(strcmp(bufs[0], "m0") == 0 && strcmp(bufs[2], "m2") == 0);
    /* the timeout: one datagram arrives, the call returns once the time is up (checked
     * after each datagram) and writes back the time left (here 0) */
    CHECK_EQ(send(s1, "t1", 2, 0), 2);
    CHECK_EQ(poll(&p, 1, 5000), 1);
    struct timespec to = {0, 0}; /* already expired: return after the first datagram */
    int r = recvmmsg(s2, mm, 3, 0, &to);
    CHECK_EQ(r, 1);
    CHECK(to.tv_sec == 0 && to.tv_nsec == 0);
    struct timespec bad = {0, 1000000000L};
    CHECK_ERR(recvmmsg(s2, mm, 3, MSG_DONTWAIT, &bad), EINVAL);
    close(s1);
    close(s2);
}

int main(void)
{
    t_section("IPv4");
    test(AF_INET);
    t_section("IPv6");
    test(AF_INET6);
    return t_finish("net_udp");
}
