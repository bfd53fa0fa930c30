/* fcntl (F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD/SETFD, F_GETFL/SETFL, F_SETLK/
 * F_GETLK in one process), dup/dup2/dup3, ioctl (TCGETS, TIOCGWINSZ,
 * FIONREAD, FIOCLEX/FIONCLEX). */
#include "t.h"
#include <sys/ioctl.h>
#include <termios.h>

static void test_dup(void)
{
    t_section("dup/dup2/dup3");
    int fd = open(t_path("f"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    int d = dup(fd);
    CHECK(d > fd);
    /* the lowest free number is reused */
    CHECK_EQ(close(d), 0);
    CHECK_EQ(dup(fd), d);
    /* shared file offset */
    CHECK_EQ(write(fd, "abcdef", 6), 6);
    CHECK_EQ(lseek(d, 0, SEEK_CUR), 6);
    CHECK_EQ(lseek(d, 2, SEEK_SET), 2);
    char c = 0;
    CHECK_EQ(read(fd, &c, 1), 1);
    CHECK(c == 'c');

    CHECK_EQ(dup2(fd, 100), 100);
    CHECK_EQ(dup2(fd, fd), fd);
    CHECK_EQ(dup2(fd, d), d); /* replaces an open fd */
    CHECK_EQ(fcntl(100, F_GETFD), 0);
    CHECK_ERR(dup2(fd, -1), EBADF);
    CHECK_ERR(dup2(1000000, 101), EBADF);
    CHECK_ERR(dup3(fd, fd, 0), EINVAL);
    CHECK_EQ(dup3(fd, 101, O_CLOEXEC), 101);
    CHECK_EQ(fcntl(101, F_GETFD), FD_CLOEXEC);
    CHECK_ERR(syscall(SYS_dup3, fd, 102, 0x40), EINVAL); /* raw: musl drops unknown flags */
    CHECK_ERR(dup(-1), EBADF);
    CHECK_ERR(dup(1000000), EBADF);
    close(100);
    close(101);
    close(d);
    close(fd);
    CHECK_ERR(fcntl(100, F_GETFD), EBADF);
    printf("dup ok\n");
}

static void test_fcntl_fd(void)
{
    t_section("F_DUPFD/F_GETFD/F_SETFD/F_GETFL/F_SETFL");
    int fd = open(t_path("f"), O_RDWR | O_APPEND);
    CHECK(fd >= 0);
    int d = fcntl(fd, F_DUPFD, 50);
    CHECK_EQ(d, 50);
    CHECK_EQ(fcntl(fd, F_DUPFD, 50), 51); /* next free at or above 50 */
    CHECK_EQ(fcntl(d, F_GETFD), 0);
    int dc = fcntl(fd, F_DUPFD_CLOEXEC, 60);
    CHECK_EQ(dc, 60);
    CHECK_EQ(fcntl(dc, F_GETFD), FD_CLOEXEC);
    CHECK_EQ(fcntl(dc, F_SETFD, 0), 0);
    CHECK_EQ(fcntl(dc, F_GETFD), 0);
    CHECK_EQ(fcntl(dc, F_SETFD, FD_CLOEXEC), 0);
    CHECK_EQ(fcntl(dc, F_GETFD), FD_CLOEXEC);
    CHECK_ERR(fcntl(fd, F_DUPFD, -1), EINVAL);

    int fl = fcntl(fd, F_GETFL);
    CHECK(fl != -1);
    CHECK_EQ(fl & O_ACCMODE, O_RDWR);
    CHECK(fl & O_APPEND);
    CHECK(!(fl & O_NONBLOCK));
    /* the flags are shared with dups */
    CHECK_EQ(fcntl(d, F_SETFL, O_NONBLOCK), 0);
    fl = fcntl(fd, F_GETFL);
    CHECK(fl & O_NONBLOCK);
    CHECK(!(fl & O_APPEND));
    /* the access mode cannot change */
    CHECK_EQ(fcntl(fd, F_SETFL, O_APPEND | O_RDONLY), 0);
    fl = fcntl(fd, F_GETFL);
    CHECK_EQ(fl & O_ACCMODE, O_RDWR);
    CHECK(fl & O_APPEND);
    CHECK(!(fl & O_NONBLOCK));
    printf("flags: accmode=%s append=%d nonblock=%d\n",
           (fl & O_ACCMODE) == O_RDWR ? "O_RDWR" : "other", !!(fl & O_APPEND),
           !!(fl & O_NONBLOCK));

    int ro = open(t_path("f"), O_RDONLY);
    CHECK_EQ(fcntl(ro, F_GETFL) & O_ACCMODE, O_RDONLY);
    close(ro);
    CHECK_ERR(fcntl(-1, F_GETFL), EBADF);
    CHECK_ERR(fcntl(fd, 0x7fff), EINVAL);
    close(d);
    close(51);
    close(dc);
    close(fd);
}

static void test_locks(void)
{
    t_section("F_SETLK/F_GETLK");
    int fd = open(t_path("lock"), O_RDWR | O_CREAT, 0644);
    CHECK_EQ(ftruncate(fd, 1000), 0);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 100};
    CHECK_EQ(fcntl(fd, F_SETLK, &fl), 0);
    /* our own lock never conflicts with us */
    struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 10, .l_len = 10};
    CHECK_EQ(fcntl(fd, F_GETLK, &q), 0);
    printf("F_GETLK over own write lock: %s\n",
           q.l_type == F_UNLCK ? "F_UNLCK" : q.l_type == F_WRLCK ? "F_WRLCK" : "F_RDLCK");
    CHECK_EQ(q.l_type, F_UNLCK);
    /* upgrade/downgrade/split and unlock */
    fl.l_type = F_RDLCK;
    fl.l_start = 50;
    fl.l_len = 10;
    CHECK_EQ(fcntl(fd, F_SETLK, &fl), 0);
    fl.l_type = F_UNLCK;
    fl.l_start = 0;
    fl.l_len = 0; /* to the end of the file */
    CHECK_EQ(fcntl(fd, F_SETLK, &fl), 0);
    /* a blocking lock on an uncontended range returns at once */
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_END;
    fl.l_start = -10;
    fl.l_len = 10;
    CHECK_EQ(fcntl(fd, F_SETLKW, &fl), 0);
    q.l_type = F_RDLCK;
    q.l_whence = SEEK_SET;
    q.l_start = 995;
    q.l_len = 1;
    CHECK_EQ(fcntl(fd, F_GETLK, &q), 0);
    CHECK_EQ(q.l_type, F_UNLCK);
    /* errors */
    fl.l_type = 42;
    CHECK_ERR(fcntl(fd, F_SETLK, &fl), EINVAL);
    fl.l_type = F_RDLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = -5;
    fl.l_len = 1;
    CHECK_ERR(fcntl(fd, F_SETLK, &fl), EINVAL);
    int wo = open(t_path("lock"), O_WRONLY);
    fl.l_start = 0;
    CHECK_ERR(fcntl(wo, F_SETLK, &fl), EBADF); /* read lock needs read access */
    int ro = open(t_path("lock"), O_RDONLY);
    fl.l_type = F_WRLCK;
    CHECK_ERR(fcntl(ro, F_SETLK, &fl), EBADF);
    fl.l_type = F_RDLCK;
    CHECK_EQ(fcntl(ro, F_SETLK, &fl), 0);
    close(ro);
    close(wo);
    close(fd);
    printf("locks ok\n");
}

static void test_ioctl(void)
{
    t_section("ioctl");
    int fd = open(t_path("io"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK_EQ(write(fd, "0123456789", 10), 10);
    struct termios tio;
    CHECK_ERR(ioctl(fd, TCGETS, &tio), ENOTTY);
    CHECK(isatty(fd) == 0);
    struct winsize ws;
    CHECK_ERR(ioctl(fd, TIOCGWINSZ, &ws), ENOTTY);
    int avail = -1;
    CHECK_EQ(lseek(fd, 3, SEEK_SET), 3);
    CHECK_EQ(ioctl(fd, FIONREAD, &avail), 0);
    printf("FIONREAD at offset 3 of 10: %d\n", avail);
    CHECK_EQ(avail, 7);
    CHECK_EQ(fcntl(fd, F_GETFD), 0);
    CHECK_EQ(ioctl(fd, FIOCLEX), 0);
    CHECK_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC);
    CHECK_EQ(ioctl(fd, FIONCLEX), 0);
    CHECK_EQ(fcntl(fd, F_GETFD), 0);
    CHECK_ERR(ioctl(-1, FIONREAD, &avail), EBADF);
    close(fd);
    printf("ioctl ok\n");
}

int main(void)
{
    t_mkdir("fcntl");
    test_dup();
    test_fcntl_fd();
    test_locks();
    test_ioctl();
    t_cleanup();
    return t_finish("fcntl");
}
