/* AF_UNIX: socketpair (stream, dgram, seqpacket), path and abstract names,
 * listen/accept/connect, EOF and EPIPE, SCM_RIGHTS to a forked child,
 * SCM_CREDENTIALS, SO_PEERCRED. */
#include "t.h"
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

static void test_pairs(void)
{
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    CHECK_EQ(write(sv[0], "abc", 3), 3);
    CHECK_EQ(write(sv[0], "def", 3), 3);
    char b[16];
    CHECK_EQ(read(sv[1], b, sizeof b), 6); /* a stream joins writes */
    CHECK(memcmp(b, "abcdef", 6) == 0);
    CHECK_EQ(shutdown(sv[0], SHUT_WR), 0);
    CHECK_EQ(read(sv[1], b, sizeof b), 0);
    CHECK_EQ(write(sv[1], "x", 1), 1); /* the other direction still works */
    CHECK_EQ(read(sv[0], b, 1), 1);
    close(sv[1]);
    signal(SIGPIPE, SIG_IGN);
    CHECK_ERR(write(sv[0], "y", 1), EPIPE);
    close(sv[0]);

    CHECK_EQ(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
    CHECK_EQ(send(sv[0], "one", 3, 0), 3);
    CHECK_EQ(send(sv[0], "two!", 4, 0), 4);
    CHECK_EQ(recv(sv[1], b, sizeof b, 0), 3);
    CHECK_EQ(recv(sv[1], b, 2, 0), 2); /* truncated, rest dropped */
    CHECK_ERR(recv(sv[1], b, sizeof b, MSG_DONTWAIT), EAGAIN);
    close(sv[0]);
    close(sv[1]);

    CHECK_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    CHECK_EQ(fcntl(sv[0], F_GETFD), FD_CLOEXEC);
    CHECK_EQ(send(sv[0], "rec1", 4, 0), 4);
    CHECK_EQ(send(sv[0], "rec22", 5, 0), 5);
    struct iovec iov = { b, 2 };
    struct msghdr mh = { 0 };
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    CHECK_EQ(recvmsg(sv[1], &mh, 0), 2);
    CHECK(mh.msg_flags & MSG_TRUNC);
    CHECK_EQ(recv(sv[1], b, sizeof b, 0), 5);
    int v = 0;
    socklen_t vl = sizeof v;
    CHECK_EQ(getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &v, &vl), 0);
    CHECK_EQ(v, SOCK_SEQPACKET);
    close(sv[0]);
    CHECK_EQ(recv(sv[1], b, sizeof b, 0), 0);
    close(sv[1]);

    CHECK_ERR(socketpair(AF_INET, SOCK_STREAM, 0, sv), EOPNOTSUPP);
}

static socklen_t path_addr(struct sockaddr_un *a, const char *p, int abstract)
{
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    if (abstract) {
        a->sun_path[0] = 0;
        memcpy(a->sun_path + 1, p, strlen(p));
        return offsetof(struct sockaddr_un, sun_path) + 1 + strlen(p);
    }
    strcpy(a->sun_path, p);
    return offsetof(struct sockaddr_un, sun_path) + strlen(p) + 1;
}

/* mode 0: a path in /dev/shm (a tmpfs: full node semantics); 1: abstract;
 * 2: a path in /tmp (on myst's host-directory rootfs the name lives only in
 * the kernel, so node checks are skipped there). */
static void test_named(int mode)
{
    char name[200];
    int abstract = mode == 1;
    if (mode == 1)
        snprintf(name, sizeof name, "myst-test-%ld", (long)getpid());
    else if (mode == 2)
        snprintf(name, sizeof name, "%s", t_path("sock"));
    else
        snprintf(name, sizeof name, "/dev/shm/myst-net_unix-%ld.sock", (long)getpid());
    struct sockaddr_un a;
    socklen_t al = path_addr(&a, name, abstract);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK_EQ(bind(s, (struct sockaddr *)&a, al), 0);
    if (mode == 0) {
        struct stat st;
        CHECK_EQ(stat(name, &st), 0);
        CHECK(S_ISSOCK(st.st_mode));
        int s2 = socket(AF_UNIX, SOCK_STREAM, 0);
        CHECK_ERR(bind(s2, (struct sockaddr *)&a, al), EADDRINUSE);
        close(s2);
    }
    struct sockaddr_un got;
    socklen_t gl = sizeof got;
    CHECK_EQ(getsockname(s, (struct sockaddr *)&got, &gl), 0);
    CHECK_EQ(gl, al);
    CHECK(memcmp(&got, &a, al) == 0);
    CHECK_EQ(listen(s, 4), 0);
    pid_t pid = fork();
    if (pid == 0) {
        int c = socket(AF_UNIX, SOCK_STREAM, 0);
        if (connect(c, (struct sockaddr *)&a, al) != 0)
            _exit(3);
        struct sockaddr_un pn;
        socklen_t pl = sizeof pn;
        if (getpeername(c, (struct sockaddr *)&pn, &pl) != 0 || pl != al)
            _exit(4);
        if (write(c, "from child", 10) != 10)
            _exit(5);
        char b[8];
        if (read(c, b, sizeof b) != 2 || memcmp(b, "ok", 2) != 0)
            _exit(6);
        close(c);
        _exit(0);
    }
    struct sockaddr_un peer;
    socklen_t pl = sizeof peer;
    int c = accept(s, (struct sockaddr *)&peer, &pl);
    CHECK(c >= 0);
    CHECK_EQ(pl, offsetof(struct sockaddr_un, sun_path)); /* unnamed client */
    char b[32];
    CHECK_EQ(read(c, b, sizeof b), 10);
    CHECK(memcmp(b, "from child", 10) == 0);
    struct ucred cr;
    socklen_t cl = sizeof cr;
    CHECK_EQ(getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &cl), 0);
    CHECK_EQ(cr.pid, pid);
    CHECK_EQ(cr.uid, getuid());
    CHECK_EQ(write(c, "ok", 2), 2);
    CHECK_EQ(read(c, b, sizeof b), 0);
    int st;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(c);
    close(s);
    if (mode == 2) {
        unlink(name);
    } else if (!abstract) {
        /* the node stays; nobody listens */
        int c2 = socket(AF_UNIX, SOCK_STREAM, 0);
        CHECK_ERR(connect(c2, (struct sockaddr *)&a, al), ECONNREFUSED);
        CHECK_EQ(unlink(name), 0);
        CHECK_ERR(connect(c2, (struct sockaddr *)&a, al), ENOENT);
        close(c2);
    } else {
        int c2 = socket(AF_UNIX, SOCK_STREAM, 0);
        CHECK_ERR(connect(c2, (struct sockaddr *)&a, al), ECONNREFUSED);
        close(c2);
    }
}

static void test_dgram_named(void)
{
    struct sockaddr_un a, b;
    char n1[100], n2[100];
    snprintf(n1, sizeof n1, "/dev/shm/myst-net_unix-%ld.d1", (long)getpid());
    snprintf(n2, sizeof n2, "/dev/shm/myst-net_unix-%ld.d2", (long)getpid());
    socklen_t al = path_addr(&a, n1, 0), bl = path_addr(&b, n2, 0);
    int s1 = socket(AF_UNIX, SOCK_DGRAM, 0), s2 = socket(AF_UNIX, SOCK_DGRAM, 0);
    CHECK_EQ(bind(s1, (struct sockaddr *)&a, al), 0);
    CHECK_EQ(bind(s2, (struct sockaddr *)&b, bl), 0);
    CHECK_EQ(sendto(s1, "hi", 2, 0, (struct sockaddr *)&b, bl), 2);
    struct sockaddr_un from;
    socklen_t fl = sizeof from;
    char buf[8];
    CHECK_EQ(recvfrom(s2, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl), 2);
    CHECK_EQ(fl, al);
    CHECK(strcmp(from.sun_path, a.sun_path) == 0);
    close(s1);
    close(s2);
    unlink(a.sun_path);
    unlink(b.sun_path);
}

static int send_fd(int s, int fd)
{
    char c = 'F';
    struct iovec iov = { &c, 1 };
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr mh = { 0 };
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = u.buf;
    mh.msg_controllen = sizeof u.buf;
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof fd);
    return sendmsg(s, &mh, 0);
}

static int recv_fd(int s)
{
    char c;
    struct iovec iov = { &c, 1 };
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr mh = { 0 };
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = u.buf;
    mh.msg_controllen = sizeof u.buf;
    if (recvmsg(s, &mh, MSG_CMSG_CLOEXEC) != 1)
        return -1;
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    if (!cm || cm->cmsg_type != SCM_RIGHTS || cm->cmsg_len != CMSG_LEN(sizeof(int)))
        return -2;
    int fd;
    memcpy(&fd, CMSG_DATA(cm), sizeof fd);
    return fd;
}

static void test_rights(void)
{
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        int fd = recv_fd(sv[1]);
        if (fd < 0)
            _exit(10 - fd);
        if (fcntl(fd, F_GETFD) != FD_CLOEXEC)
            _exit(20);
        if (write(fd, "through the pipe", 16) != 16)
            _exit(21);
        _exit(0);
    }
    close(sv[1]);
    int p[2];
    CHECK_EQ(pipe(p), 0);
    CHECK_EQ(send_fd(sv[0], p[1]), 1);
    close(p[1]);
    char b[32];
    CHECK_EQ(read(p[0], b, sizeof b), 16);
    CHECK(memcmp(b, "through the pipe", 16) == 0);
    CHECK_EQ(read(p[0], b, sizeof b), 0); /* the child's copy is gone too */
    int st;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(p[0]);
    close(sv[0]);
}

static void test_creds(void)
{
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
    int one = 1;
    CHECK_EQ(setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof one), 0);
    /* explicit credentials */
    struct ucred cr = { getpid(), getuid(), getgid() };
    char c = 'C';
    struct iovec iov = { &c, 1 };
    union {
        char buf[CMSG_SPACE(sizeof(struct ucred))];
        struct cmsghdr align;
    } u;
    struct msghdr mh = { 0 };
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = u.buf;
    mh.msg_controllen = sizeof u.buf;
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_CREDENTIALS;
    cm->cmsg_len = CMSG_LEN(sizeof cr);
    memcpy(CMSG_DATA(cm), &cr, sizeof cr);
    CHECK_EQ(sendmsg(sv[0], &mh, 0), 1);
    /* and none: the kernel attaches them */
    CHECK_EQ(send(sv[0], "D", 1, 0), 1);
    for (int i = 0; i < 2; i++) {
        memset(&u, 0, sizeof u);
        mh.msg_controllen = sizeof u.buf;
        CHECK_EQ(recvmsg(sv[1], &mh, 0), 1);
        cm = CMSG_FIRSTHDR(&mh);
        CHECK(cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_CREDENTIALS);
        if (cm) {
            struct ucred got;
            memcpy(&got, CMSG_DATA(cm), sizeof got);
            CHECK_EQ(got.pid, getpid());
            CHECK_EQ(got.uid, getuid());
            CHECK_EQ(got.gid, getgid());
        }
    }
    /* somebody else's pid is refused */
    cr.pid = getpid() + 1;
    mh.msg_controllen = sizeof u.buf;
    cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_CREDENTIALS;
    cm->cmsg_len = CMSG_LEN(sizeof cr);
    memcpy(CMSG_DATA(cm), &cr, sizeof cr);
    if (getuid() != 0)
        CHECK_ERR(sendmsg(sv[0], &mh, 0), EPERM);
    close(sv[0]);
    close(sv[1]);
}

/* bind with only the family: the kernel picks a unique abstract name ("\0" + 5 hex digits) */
static void test_autobind(void)
{
    t_section("autobind");
    int a = socket(AF_UNIX, SOCK_STREAM, 0), b = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un fam = {.sun_family = AF_UNIX}, na = {0}, nb = {0};
    CHECK_EQ(bind(a, (struct sockaddr *)&fam, sizeof(sa_family_t)), 0);
    CHECK_EQ(bind(b, (struct sockaddr *)&fam, sizeof(sa_family_t)), 0);
    socklen_t la = sizeof na, lb = sizeof nb;
    CHECK_EQ(getsockname(a, (struct sockaddr *)&na, &la), 0);
    CHECK_EQ(getsockname(b, (struct sockaddr *)&nb, &lb), 0);
    CHECK_EQ(la, sizeof(sa_family_t) + 6);
    CHECK(na.sun_path[0] == 0 && strspn(na.sun_path + 1, "0123456789abcdef") == 5);
    CHECK(la != lb || memcmp(&na, &nb, la) != 0);
    CHECK_EQ(listen(a, 1), 0);
    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK_EQ(connect(c, (struct sockaddr *)&na, la), 0);
    int s = accept(a, NULL, NULL);
    CHECK(s >= 0);
    CHECK_EQ(write(c, "ab", 2), 2);
    char buf[2];
    CHECK_EQ(read(s, buf, 2), 2);
    close(a);
    close(b);
    close(c);
    close(s);
    printf("bind(family only): two distinct abstract names, connectable\n");
}

int main(void)
{
    t_mkdir("net_unix");
    t_section("socketpair");
    test_pairs();
    test_autobind();
    t_section("path name in /dev/shm");
    test_named(0);
    t_section("abstract name");
    test_named(1);
    t_section("path name in /tmp");
    test_named(2);
    t_section("named datagrams");
    test_dgram_named();
    t_section("SCM_RIGHTS to a child");
    test_rights();
    t_section("SCM_CREDENTIALS");
    test_creds();
    t_cleanup();
    return t_finish("net_unix");
}
