/* Error returns: ENOENT, EBADF, and EFAULT for bad user pointers passed to
 * read/write/stat/open and friends (the kernel must return EFAULT, never
 * crash). */
#include "t.h"
#include <sys/uio.h>
#include <sys/utsname.h>
#include <time.h>

int main(void)
{
    t_mkdir("errno");
    const char *f = t_path("file");
    CHECK_EQ(t_write_file(f, "some data here", 14), 0);

    t_section("ENOENT");
    CHECK_ERR(open("/nonexistent-myst-test/x", O_RDONLY), ENOENT);
    CHECK_ERR(open(t_path("missing"), O_RDONLY), ENOENT);
    struct stat st;
    CHECK_ERR(stat(t_path("missing"), &st), ENOENT);
    CHECK_ERR(unlink(t_path("missing")), ENOENT);
    CHECK_ERR(rmdir(t_path("missing")), ENOENT);
    CHECK_ERR(chdir(t_path("missing")), ENOENT);
    CHECK_ERR(readlink(t_path("missing"), (char[8]){0}, 8), ENOENT);
    printf("ENOENT ok\n");

    t_section("EBADF");
    char buf[64];
    CHECK_ERR(read(-1, buf, 1), EBADF);
    CHECK_ERR(write(-1, buf, 1), EBADF);
    CHECK_ERR(read(999, buf, 1), EBADF);
    CHECK_ERR(close(999), EBADF);
    CHECK_ERR(close(-1), EBADF);
    CHECK_ERR(fstat(999, &st), EBADF);
    CHECK_ERR(lseek(999, 0, SEEK_SET), EBADF);
    CHECK_ERR(fsync(999), EBADF);
    CHECK_ERR(fchdir(999), EBADF);
    CHECK_ERR(openat(999, "x", O_RDONLY), EBADF);
    int fd = open(f, O_RDONLY);
    close(fd);
    CHECK_ERR(read(fd, buf, 1), EBADF); /* just closed */
    printf("EBADF ok\n");

    t_section("EFAULT");
    void *bad = t_bad_ptr(0x10);
    void *bad2 = t_bad_ptr(~(uintptr_t)0 - 4095); /* the kernel's half */
    fd = open(f, O_RDWR);
    CHECK(fd >= 0);
    CHECK_ERR(write(fd, bad, 10), EFAULT);
    CHECK_ERR(write(fd, bad2, 10), EFAULT);
    CHECK_ERR(read(fd, bad, 10), EFAULT);
    CHECK_ERR(read(fd, bad2, 10), EFAULT);
    CHECK_ERR(pread(fd, bad, 10, 0), EFAULT);
    CHECK_ERR(pwrite(fd, bad, 10, 0), EFAULT);
    CHECK_ERR(syscall(SYS_stat, bad, &st), EFAULT);
    CHECK_ERR(syscall(SYS_stat, f, bad), EFAULT);
    CHECK_ERR(syscall(SYS_lstat, f, bad2), EFAULT);
    CHECK_ERR(syscall(SYS_fstat, fd, bad), EFAULT);
    CHECK_ERR(syscall(SYS_newfstatat, AT_FDCWD, bad, &st, 0), EFAULT);
    CHECK_ERR(syscall(SYS_open, bad, O_RDONLY), EFAULT);
    CHECK_ERR(syscall(SYS_openat, AT_FDCWD, bad, O_RDONLY), EFAULT);
    CHECK_ERR(syscall(SYS_access, bad, F_OK), EFAULT);
    CHECK_ERR(syscall(SYS_mkdir, bad, 0755), EFAULT);
    CHECK_ERR(syscall(SYS_unlink, bad), EFAULT);
    CHECK_ERR(syscall(SYS_readlink, bad, buf, sizeof buf), EFAULT);
    CHECK_ERR(syscall(SYS_getcwd, bad, 100), EFAULT);
    CHECK_ERR(syscall(SYS_uname, bad), EFAULT);
    CHECK_ERR(syscall(SYS_clock_gettime, CLOCK_REALTIME, bad), EFAULT);
    CHECK_ERR(syscall(SYS_nanosleep, bad, NULL), EFAULT);
    struct iovec iov[2] = {{.iov_base = buf, .iov_len = 4}, {.iov_base = bad, .iov_len = 4}};
    CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
    /* the first buffer is filled, then the bad one stops the read short */
    CHECK_EQ(readv(fd, iov, 2), 4);
    CHECK_ERR(readv(fd, bad, 2), EFAULT);
    CHECK_ERR(writev(fd, bad, 1), EFAULT);
    /* the file is unchanged by all of this */
    memset(buf, 0, sizeof buf);
    CHECK_EQ(pread(fd, buf, sizeof buf, 0), 14);
    CHECK(strcmp(buf, "some data here") == 0);
    close(fd);
    printf("EFAULT ok\n");

    t_section("misc");
    CHECK_ERR(open(f, O_RDONLY | O_DIRECTORY), ENOTDIR);
    CHECK_ERR(mkdir(f, 0755), EEXIST);
    CHECK_ERR(rmdir(f), ENOTDIR);
    CHECK_ERR(unlink(t_dir), EISDIR);
    fd = open(f, O_RDONLY);
    CHECK_ERR(lseek(fd, 0, 99), EINVAL);
    CHECK_ERR(write(fd, "x", 1), EBADF);
    close(fd);
    printf("misc ok\n");

    t_cleanup();
    return t_finish("errno");
}
