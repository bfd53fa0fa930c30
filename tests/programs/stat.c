/* stat family (fstat/stat/lstat/newfstatat/statx), chmod/fchmod(at),
 * chown to own ids, utimensat/futimens, umask, access/faccessat/faccessat2. */
#include "t.h"
#include <time.h>

/* Our own statx layout (the kernel ABI), so that musl builds need no
 * kernel headers. */
struct t_statx_ts {
    int64_t tv_sec;
    uint32_t tv_nsec;
    int32_t reserved;
};
struct t_statx {
    uint32_t stx_mask, stx_blksize;
    uint64_t stx_attributes;
    uint32_t stx_nlink, stx_uid, stx_gid;
    uint16_t stx_mode, pad1;
    uint64_t stx_ino, stx_size, stx_blocks, stx_attributes_mask;
    struct t_statx_ts stx_atime, stx_btime, stx_ctime, stx_mtime;
    uint32_t stx_rdev_major, stx_rdev_minor, stx_dev_major, stx_dev_minor;
    uint64_t spare[14];
};
#define T_STATX_BASIC_STATS 0x7ffU
#define T_STATX_SIZE 0x200U
#define T_STATX_MODE 0x2U

static long t_statx(int dfd, const char *path, int flags, unsigned mask, struct t_statx *out)
{
    return syscall(SYS_statx, dfd, path, flags, mask, out);
}

static const char *type_of(mode_t m)
{
    if (S_ISREG(m)) return "regular";
    if (S_ISDIR(m)) return "directory";
    if (S_ISLNK(m)) return "symlink";
    if (S_ISCHR(m)) return "chardev";
    if (S_ISBLK(m)) return "blockdev";
    if (S_ISFIFO(m)) return "fifo";
    if (S_ISSOCK(m)) return "socket";
    return "unknown";
}

static void test_stat_family(void)
{
    t_section("stat/fstat/lstat/newfstatat/statx");
    const char *f = t_path("file");
    CHECK_EQ(t_write_file(f, "0123456789abcdef", 16), 0);
    CHECK_EQ(chmod(f, 0640), 0);
    CHECK_EQ(symlink("file", t_path("link")), 0);
    CHECK_EQ(mkdir(t_path("dir"), 0750), 0);

    struct stat st, st2;
    CHECK_EQ(stat(f, &st), 0);
    printf("stat file: type=%s size=%ld mode=%04o nlink=%ld\n", type_of(st.st_mode),
           (long)st.st_size, (unsigned)(st.st_mode & 07777), (long)st.st_nlink);
    CHECK(S_ISREG(st.st_mode));
    CHECK_EQ(st.st_size, 16);
    CHECK_EQ(st.st_mode & 07777, 0640);
    CHECK_EQ(st.st_nlink, 1);
    CHECK(st.st_uid == geteuid());
    CHECK(st.st_blksize > 0);
    CHECK(st.st_ino != 0);

    int fd = open(f, O_RDONLY);
    CHECK_EQ(fstat(fd, &st2), 0);
    CHECK(st2.st_ino == st.st_ino && st2.st_dev == st.st_dev);
    CHECK_EQ(st2.st_size, 16);
    CHECK_ERR(fstat(-1, &st2), EBADF);

    CHECK_EQ(lstat(t_path("link"), &st2), 0);
    printf("lstat link: type=%s size=%ld\n", type_of(st2.st_mode), (long)st2.st_size);
    CHECK(S_ISLNK(st2.st_mode));
    CHECK_EQ(st2.st_size, 4); /* length of "file" */
    CHECK_EQ(stat(t_path("link"), &st2), 0);
    CHECK(S_ISREG(st2.st_mode) && st2.st_ino == st.st_ino);

    CHECK_EQ(stat(t_path("dir"), &st2), 0);
    printf("stat dir: type=%s mode=%04o\n", type_of(st2.st_mode),
           (unsigned)(st2.st_mode & 07777));
    CHECK(S_ISDIR(st2.st_mode));
    CHECK(st2.st_nlink >= 1);

    /* newfstatat: relative to a dirfd, with and without following */
    int dfd = open(t_dir, O_RDONLY | O_DIRECTORY);
    CHECK_EQ(fstatat(dfd, "link", &st2, AT_SYMLINK_NOFOLLOW), 0);
    CHECK(S_ISLNK(st2.st_mode));
    CHECK_EQ(fstatat(dfd, "link", &st2, 0), 0);
    CHECK(S_ISREG(st2.st_mode));
    CHECK_EQ(fstatat(fd, "", &st2, AT_EMPTY_PATH), 0);
    CHECK(st2.st_ino == st.st_ino);
    CHECK_ERR(fstatat(dfd, "missing", &st2, 0), ENOENT);
    CHECK_ERR(fstatat(dfd, "link", &st2, 0x12345), EINVAL);
    CHECK_ERR(stat(t_path("file/x"), &st2), ENOTDIR);
    CHECK_ERR(stat("", &st2), ENOENT);

    /* statx */
    struct t_statx sx;
    memset(&sx, 0xff, sizeof sx);
    CHECK_EQ(t_statx(dfd, "file", 0, T_STATX_BASIC_STATS, &sx), 0);
    CHECK((sx.stx_mask & (T_STATX_SIZE | T_STATX_MODE)) == (T_STATX_SIZE | T_STATX_MODE));
    printf("statx file: type=%s size=%llu mode=%04o nlink=%u\n", type_of(sx.stx_mode),
           (unsigned long long)sx.stx_size, sx.stx_mode & 07777u, sx.stx_nlink);
    CHECK_EQ(sx.stx_size, 16);
    CHECK_EQ(sx.stx_mode & 07777, 0640);
    CHECK_EQ(sx.stx_nlink, 1);
    CHECK(sx.stx_ino == (uint64_t)st.st_ino);
    CHECK(sx.stx_uid == (uint32_t)st.st_uid && sx.stx_gid == (uint32_t)st.st_gid);
    CHECK(sx.stx_mtime.tv_sec == (int64_t)st.st_mtim.tv_sec &&
          sx.stx_mtime.tv_nsec == (uint32_t)st.st_mtim.tv_nsec);
    CHECK_EQ(t_statx(dfd, "link", AT_SYMLINK_NOFOLLOW, T_STATX_BASIC_STATS, &sx), 0);
    CHECK(S_ISLNK(sx.stx_mode));
    CHECK_EQ(t_statx(fd, "", AT_EMPTY_PATH, T_STATX_BASIC_STATS, &sx), 0);
    CHECK_EQ(sx.stx_size, 16);
    CHECK_ERR(t_statx(dfd, "missing", 0, T_STATX_BASIC_STATS, &sx), ENOENT);
    close(fd);
    close(dfd);
}

static void test_chmod_chown(void)
{
    t_section("chmod/fchmod/fchmodat/chown");
    const char *f = t_path("file");
    struct stat st;
    CHECK_EQ(chmod(f, 0600), 0);
    CHECK_EQ(stat(f, &st), 0);
    CHECK_EQ(st.st_mode & 07777, 0600);
    int fd = open(f, O_RDONLY);
    CHECK_EQ(fchmod(fd, 0444), 0);
    CHECK_EQ(fstat(fd, &st), 0);
    CHECK_EQ(st.st_mode & 07777, 0444);
    CHECK_EQ(fchmodat(AT_FDCWD, f, 0755, 0), 0);
    CHECK_EQ(stat(f, &st), 0);
    CHECK_EQ(st.st_mode & 07777, 0755);
    CHECK_EQ(chmod(f, 01644), 0); /* sticky bit on a file */
    CHECK_EQ(stat(f, &st), 0);
    printf("modes: %04o\n", (unsigned)(st.st_mode & 07777));
    CHECK_ERR(chmod(t_path("missing"), 0644), ENOENT);
    CHECK_ERR(fchmod(-1, 0644), EBADF);

    /* chown to our own ids always works */
    CHECK_EQ(chown(f, getuid(), getgid()), 0);
    CHECK_EQ(fchown(fd, geteuid(), getegid()), 0);
    CHECK_EQ(lchown(t_path("link"), getuid(), getgid()), 0);
    CHECK_EQ(fchownat(AT_FDCWD, f, (uid_t)-1, (gid_t)-1, 0), 0);
    CHECK_EQ(stat(f, &st), 0);
    CHECK(st.st_uid == getuid() && st.st_gid == getgid());
    CHECK_ERR(chown(t_path("missing"), getuid(), getgid()), ENOENT);
    close(fd);
    CHECK_EQ(chmod(f, 0644), 0);
    printf("chmod/chown ok\n");
}

static void test_times(void)
{
    t_section("utimensat/futimens");
    const char *f = t_path("file");
    struct timespec ts[2] = {
        {.tv_sec = 1000000000, .tv_nsec = 500000000},
        {.tv_sec = 1234567890, .tv_nsec = 123456789},
    };
    CHECK_EQ(utimensat(AT_FDCWD, f, ts, 0), 0);
    struct stat st;
    CHECK_EQ(stat(f, &st), 0);
    printf("atime=%lld.%09ld mtime=%lld.%09ld\n", (long long)st.st_atim.tv_sec,
           st.st_atim.tv_nsec, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    CHECK(st.st_atim.tv_sec == 1000000000 && st.st_atim.tv_nsec == 500000000);
    CHECK(st.st_mtim.tv_sec == 1234567890 && st.st_mtim.tv_nsec == 123456789);

    /* UTIME_OMIT keeps, UTIME_NOW sets the current time */
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct timespec ts2[2] = {{.tv_sec = 0, .tv_nsec = UTIME_OMIT},
                              {.tv_sec = 0, .tv_nsec = UTIME_NOW}};
    CHECK_EQ(utimensat(AT_FDCWD, f, ts2, 0), 0);
    CHECK_EQ(stat(f, &st), 0);
    CHECK(st.st_atim.tv_sec == 1000000000);
    CHECK(st.st_mtim.tv_sec >= now.tv_sec - 1 && st.st_mtim.tv_sec <= now.tv_sec + 5);

    /* futimens, and a symlink's own times with AT_SYMLINK_NOFOLLOW */
    int fd = open(f, O_RDONLY);
    CHECK_EQ(futimens(fd, ts), 0);
    CHECK_EQ(fstat(fd, &st), 0);
    CHECK(st.st_mtim.tv_sec == 1234567890);
    close(fd);
    struct timespec lts[2] = {{.tv_sec = 1500000000, .tv_nsec = 0},
                              {.tv_sec = 1500000001, .tv_nsec = 0}};
    CHECK_EQ(utimensat(AT_FDCWD, t_path("link"), lts, AT_SYMLINK_NOFOLLOW), 0);
    CHECK_EQ(lstat(t_path("link"), &st), 0);
    CHECK(st.st_mtim.tv_sec == 1500000001);
    CHECK_EQ(stat(f, &st), 0);
    CHECK(st.st_mtim.tv_sec == 1234567890); /* target untouched */

    struct timespec bad[2] = {{.tv_sec = 0, .tv_nsec = 1000000000},
                              {.tv_sec = 0, .tv_nsec = 0}};
    CHECK_ERR(utimensat(AT_FDCWD, f, bad, 0), EINVAL);
    CHECK_ERR(utimensat(AT_FDCWD, t_path("missing"), ts, 0), ENOENT);

    /* writing updates mtime */
    CHECK_EQ(utimensat(AT_FDCWD, f, ts, 0), 0);
    fd = open(f, O_WRONLY | O_APPEND);
    CHECK_EQ(write(fd, "x", 1), 1);
    close(fd);
    CHECK_EQ(stat(f, &st), 0);
    CHECK(st.st_mtim.tv_sec >= now.tv_sec - 1);
    printf("times ok\n");
}

static void test_umask(void)
{
    t_section("umask");
    umask(022);
    CHECK_EQ(umask(077), 022);
    int fd = open(t_path("u1"), O_CREAT | O_WRONLY, 0666);
    close(fd);
    CHECK_EQ(mkdir(t_path("u2"), 0777), 0);
    CHECK_EQ(umask(0), 077);
    fd = open(t_path("u3"), O_CREAT | O_WRONLY, 0666);
    close(fd);
    struct stat a, b, c;
    CHECK_EQ(stat(t_path("u1"), &a), 0);
    CHECK_EQ(stat(t_path("u2"), &b), 0);
    CHECK_EQ(stat(t_path("u3"), &c), 0);
    printf("umask 077: file %04o dir %04o; umask 0: file %04o\n",
           (unsigned)(a.st_mode & 07777), (unsigned)(b.st_mode & 07777),
           (unsigned)(c.st_mode & 07777));
    CHECK_EQ(a.st_mode & 07777, 0600);
    CHECK_EQ(b.st_mode & 07777, 0700);
    CHECK_EQ(c.st_mode & 07777, 0666);
    umask(022);
}

static void test_access(void)
{
    t_section("access/faccessat/faccessat2");
    const char *f = t_path("acc");
    CHECK_EQ(t_write_file(f, "x", 1), 0);
    CHECK_EQ(chmod(f, 0644), 0);
    CHECK_EQ(access(f, F_OK), 0);
    CHECK_EQ(access(f, R_OK), 0);
    CHECK_ERR(access(f, X_OK), EACCES); /* no x bit at all: even root gets EACCES */
    CHECK_ERR(access(t_path("missing"), F_OK), ENOENT);
    CHECK_ERR(access(f, 0x10), EINVAL);
    CHECK_EQ(chmod(f, 0755), 0);
    CHECK_EQ(access(f, X_OK), 0);
    CHECK_EQ(access(t_dir, R_OK | W_OK | X_OK), 0);
    int dfd = open(t_dir, O_RDONLY | O_DIRECTORY);
    CHECK_EQ(faccessat(dfd, "acc", R_OK, 0), 0);
    CHECK_ERR(faccessat(dfd, "missing", F_OK, 0), ENOENT);
    CHECK_EQ(syscall(SYS_faccessat2, dfd, "acc", R_OK, AT_EACCESS), 0);
    CHECK_EQ(syscall(SYS_faccessat2, dfd, "link", F_OK, AT_SYMLINK_NOFOLLOW), 0);
    CHECK_ERR(syscall(SYS_faccessat2, dfd, "acc", R_OK, 0x4000000), EINVAL);
    close(dfd);
    printf("access ok\n");
}

int main(void)
{
    umask(022);
    t_mkdir("stat");
    test_stat_family();
    test_chmod_chown();
    test_times();
    test_umask();
    test_access();
    t_cleanup();
    return t_finish("stat");
}
