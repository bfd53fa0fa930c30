/* File I/O: open/openat/creat, read/write, pread/pwrite, readv/writev, lseek,
 * O_APPEND, O_TRUNC, O_EXCL, O_DIRECTORY, truncate/ftruncate, fsync. */
#include "t.h"
#include <sys/uio.h>

static long file_size(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return -1;
    return (long)st.st_size;
}

static void test_open_read_write(void)
{
    t_section("open/read/write");
    const char *f = t_path("a.txt");
    int fd = open(f, O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    CHECK_EQ(write(fd, "hello world\n", 12), 12);
    CHECK_EQ(lseek(fd, 0, SEEK_CUR), 12);
    CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
    char buf[64] = {0};
    CHECK_EQ(read(fd, buf, sizeof buf), 12);
    CHECK(memcmp(buf, "hello world\n", 12) == 0);
    CHECK_EQ(read(fd, buf, sizeof buf), 0); /* EOF */
    CHECK_EQ(close(fd), 0);
    CHECK_ERR(close(fd), EBADF);
    printf("wrote and read back %ld bytes\n", file_size(f));

    /* read-only and write-only descriptors refuse the other direction */
    fd = open(f, O_RDONLY);
    CHECK(fd >= 0);
    CHECK_ERR(write(fd, "x", 1), EBADF);
    close(fd);
    fd = open(f, O_WRONLY);
    CHECK(fd >= 0);
    CHECK_ERR(read(fd, buf, 1), EBADF);
    close(fd);

    /* zero-length I/O */
    fd = open(f, O_RDWR);
    CHECK_EQ(write(fd, buf, 0), 0);
    CHECK_EQ(read(fd, buf, 0), 0);
    close(fd);
}

static void test_openat_creat(void)
{
    t_section("openat/creat");
    int dfd = open(t_dir, O_RDONLY | O_DIRECTORY);
    CHECK(dfd >= 0);
    int fd = openat(dfd, "b.txt", O_WRONLY | O_CREAT | O_EXCL, 0600);
    CHECK(fd >= 0);
    CHECK_EQ(write(fd, "bee", 3), 3);
    close(fd);
    CHECK_ERR(openat(dfd, "b.txt", O_WRONLY | O_CREAT | O_EXCL, 0600), EEXIST);
    CHECK_ERR(openat(dfd, "missing", O_RDONLY), ENOENT);
    fd = openat(AT_FDCWD, t_path("b.txt"), O_RDONLY);
    CHECK(fd >= 0);
    char buf[8] = {0};
    CHECK_EQ(read(fd, buf, sizeof buf), 3);
    CHECK(strcmp(buf, "bee") == 0);
    close(fd);
    /* absolute path ignores dirfd, even a bad one */
    fd = openat(-1, t_path("b.txt"), O_RDONLY);
    CHECK(fd >= 0);
    close(fd);
    CHECK_ERR(openat(-1, "b.txt", O_RDONLY), EBADF);
    /* a file is not a directory fd */
    fd = open(t_path("b.txt"), O_RDONLY);
    CHECK_ERR(openat(fd, "x", O_RDONLY), ENOTDIR);
    close(fd);
    close(dfd);

    fd = creat(t_path("c.txt"), 0644);
    CHECK(fd >= 0);
    CHECK_EQ(write(fd, "0123456789", 10), 10);
    CHECK_ERR(read(fd, buf, 1), EBADF); /* creat is O_WRONLY */
    close(fd);
    fd = creat(t_path("c.txt"), 0644); /* creat truncates */
    close(fd);
    CHECK_EQ(file_size(t_path("c.txt")), 0);
    printf("openat/creat ok\n");
}

static void test_flags(void)
{
    t_section("O_APPEND/O_TRUNC/O_EXCL/O_DIRECTORY");
    const char *f = t_path("flags.txt");
    CHECK_EQ(t_write_file(f, "abc", 3), 0);

    int fd = open(f, O_WRONLY | O_APPEND);
    CHECK(fd >= 0);
    CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
    CHECK_EQ(write(fd, "def", 3), 3); /* goes to the end regardless */
    CHECK_EQ(lseek(fd, 0, SEEK_CUR), 6);
    close(fd);
    char buf[16] = {0};
    fd = open(f, O_RDONLY);
    CHECK_EQ(read(fd, buf, sizeof buf), 6);
    CHECK(memcmp(buf, "abcdef", 6) == 0);
    close(fd);
    printf("append: %s\n", buf);

    fd = open(f, O_RDWR | O_TRUNC);
    CHECK(fd >= 0);
    CHECK_EQ(lseek(fd, 0, SEEK_END), 0);
    close(fd);
    CHECK_EQ(file_size(f), 0);

    CHECK_ERR(open(f, O_RDWR | O_CREAT | O_EXCL, 0644), EEXIST);
    CHECK_ERR(open(f, O_RDONLY | O_DIRECTORY), ENOTDIR);
    CHECK_ERR(open(t_dir, O_WRONLY), EISDIR);
    CHECK_ERR(open(t_dir, O_RDWR), EISDIR);
    CHECK_ERR(open(t_path("nope/x"), O_RDONLY), ENOENT);
    CHECK_ERR(open(t_path("flags.txt/x"), O_RDONLY), ENOTDIR);
    CHECK_ERR(open(t_path("nope"), O_RDONLY), ENOENT);
    fd = open(t_dir, O_RDONLY | O_DIRECTORY);
    CHECK(fd >= 0);
    CHECK_ERR(read(fd, buf, 1), EISDIR);
    close(fd);

    char longname[300];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    CHECK_ERR(open(t_path(longname), O_RDONLY), ENAMETOOLONG);

    fd = open(f, O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    CHECK((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
    close(fd);
    printf("flags ok\n");
}

static void test_pread_pwrite(void)
{
    t_section("pread/pwrite");
    const char *f = t_path("p.txt");
    int fd = open(f, O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK_EQ(write(fd, "0123456789", 10), 10);
    CHECK_EQ(pwrite(fd, "AB", 2, 3), 2);
    CHECK_EQ(lseek(fd, 0, SEEK_CUR), 10); /* offset untouched */
    char buf[16] = {0};
    CHECK_EQ(pread(fd, buf, 4, 2), 4);
    CHECK(memcmp(buf, "2AB5", 4) == 0);
    CHECK_EQ(lseek(fd, 0, SEEK_CUR), 10);
    CHECK_EQ(pread(fd, buf, 4, 100), 0); /* past EOF */
    CHECK_ERR(pread(fd, buf, 4, -1), EINVAL);
    /* pwrite past EOF extends with zeros */
    CHECK_EQ(pwrite(fd, "Z", 1, 15), 1);
    CHECK_EQ(file_size(f), 16);
    memset(buf, 'x', sizeof buf);
    CHECK_EQ(pread(fd, buf, 16, 0), 16);
    CHECK(memcmp(buf, "012AB56789\0\0\0\0\0Z", 16) == 0);
    close(fd);
    printf("pread/pwrite ok\n");
}

static void test_readv_writev(void)
{
    t_section("readv/writev");
    const char *f = t_path("v.txt");
    int fd = open(f, O_RDWR | O_CREAT | O_TRUNC, 0644);
    struct iovec wv[3] = {
        {.iov_base = "one ", .iov_len = 4},
        {.iov_base = "", .iov_len = 0},
        {.iov_base = "two three", .iov_len = 9},
    };
    CHECK_EQ(writev(fd, wv, 3), 13);
    CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
    char a[5] = {0}, b[3] = {0}, c[32] = {0};
    struct iovec rv[3] = {
        {.iov_base = a, .iov_len = 4},
        {.iov_base = b, .iov_len = 2},
        {.iov_base = c, .iov_len = sizeof c - 1},
    };
    CHECK_EQ(readv(fd, rv, 3), 13);
    printf("readv: [%s] [%s] [%s]\n", a, b, c);
    CHECK(strcmp(a, "one ") == 0 && strcmp(b, "tw") == 0 && strcmp(c, "o three") == 0);
    CHECK_ERR(readv(fd, rv, t_minus1()), EINVAL);
    CHECK_EQ(preadv(fd, rv, 1, 4), 4);
    CHECK(memcmp(a, "two ", 4) == 0);
    CHECK_EQ(pwritev(fd, wv, 1, 0), 4);
    close(fd);
}

static void test_lseek(void)
{
    t_section("lseek");
    const char *f = t_path("s.txt");
    int fd = open(f, O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK_EQ(write(fd, "abcdefghij", 10), 10);
    CHECK_EQ(lseek(fd, -3, SEEK_END), 7);
    char ch = 0;
    CHECK_EQ(read(fd, &ch, 1), 1);
    CHECK(ch == 'h');
    CHECK_EQ(lseek(fd, -2, SEEK_CUR), 6);
    CHECK_EQ(lseek(fd, 4, SEEK_SET), 4);
    CHECK_ERR(lseek(fd, -1, SEEK_SET), EINVAL);
    CHECK_ERR(lseek(fd, 0, 42), EINVAL);
    CHECK_ERR(lseek(-1, 0, SEEK_SET), EBADF);
    /* seeking past the end and writing leaves a hole of zeros */
    CHECK_EQ(lseek(fd, 20, SEEK_SET), 20);
    CHECK_EQ(file_size(f), 10);
    CHECK_EQ(write(fd, "!", 1), 1);
    CHECK_EQ(file_size(f), 21);
    char buf[32];
    CHECK_EQ(pread(fd, buf, sizeof buf, 0), 21);
    int zeros = 0;
    for (int i = 10; i < 20; i++)
        zeros += buf[i] == 0;
    CHECK_EQ(zeros, 10);
    close(fd);
    /* /dev/null and /dev/zero are seekable (the position stays 0); pread works */
    fd = open("/dev/null", O_RDWR);
    CHECK_EQ(lseek(fd, 100, SEEK_SET), 0);
    CHECK_EQ(lseek(fd, 0, SEEK_END), 0);
    CHECK_EQ(pread(fd, buf, 4, 10), 0);
    close(fd);
    fd = open("/dev/zero", O_RDONLY);
    CHECK_EQ(lseek(fd, 7, SEEK_CUR), 0);
    buf[0] = 1;
    CHECK_EQ(pread(fd, buf, 4, 10), 4);
    CHECK_EQ(buf[0], 0);
    close(fd);
    printf("lseek ok (files, /dev/null, /dev/zero)\n");
}

static void test_truncate_sync(void)
{
    t_section("truncate/ftruncate/fsync");
    const char *f = t_path("t.txt");
    CHECK_EQ(t_write_file(f, "0123456789", 10), 0);
    CHECK_EQ(truncate(f, 4), 0);
    CHECK_EQ(file_size(f), 4);
    CHECK_EQ(truncate(f, 8192), 0);
    CHECK_EQ(file_size(f), 8192);
    int fd = open(f, O_RDWR);
    char buf[8];
    CHECK_EQ(pread(fd, buf, 8, 2), 8);
    CHECK(memcmp(buf, "23\0\0\0\0\0\0", 8) == 0);
    CHECK_EQ(ftruncate(fd, 1), 0);
    CHECK_EQ(file_size(f), 1);
    CHECK_ERR(ftruncate(fd, -1), EINVAL);
    CHECK_EQ(fsync(fd), 0);
    CHECK_EQ(fdatasync(fd), 0);
    close(fd);
    fd = open(f, O_RDONLY);
    CHECK_ERR(ftruncate(fd, 0), EINVAL); /* not open for writing */
    close(fd);
    CHECK_ERR(truncate(t_dir, 0), EISDIR);
    CHECK_ERR(truncate(t_path("missing"), 0), ENOENT);
    CHECK_ERR(fsync(-1), EBADF);
    printf("truncate ok: size %ld\n", file_size(f));
}

static void test_big_file(void)
{
    t_section("big file");
    /* 3 MB in odd-sized chunks, read back in other odd-sized chunks */
    const char *f = t_path("big.bin");
    int fd = open(f, O_RDWR | O_CREAT | O_TRUNC, 0644);
    static unsigned char wbuf[70001], rbuf[65537];
    unsigned sum_w = 0, sum_r = 0;
    long total = 0;
    for (int round = 0; total < 3 * 1024 * 1024; round++) {
        size_t n = sizeof wbuf - (size_t)round * 7;
        for (size_t i = 0; i < n; i++) {
            wbuf[i] = (unsigned char)(i * 31 + (size_t)round);
            sum_w = sum_w * 33 + wbuf[i];
        }
        CHECK_EQ(write(fd, wbuf, n), (long)n);
        total += (long)n;
    }
    CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
    long got = 0;
    for (;;) {
        ssize_t n = read(fd, rbuf, sizeof rbuf);
        if (n <= 0) {
            CHECK(n == 0);
            break;
        }
        for (ssize_t i = 0; i < n; i++)
            sum_r = sum_r * 33 + rbuf[i];
        got += n;
    }
    close(fd);
    CHECK_EQ(got, total);
    CHECK(sum_w == sum_r);
    printf("big file: %ld bytes, checksum %08x\n", got, sum_r);
}

int main(void)
{
    umask(022);
    t_mkdir("fileio");
    test_open_read_write();
    test_openat_creat();
    test_flags();
    test_pread_pwrite();
    test_readv_writev();
    test_lseek();
    test_truncate_sync();
    test_big_file();
    t_cleanup();
    return t_finish("fileio");
}
