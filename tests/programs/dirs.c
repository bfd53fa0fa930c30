/* Directories and names: getdents64, mkdir/rmdir, unlink, rename/renameat/
 * renameat2(RENAME_NOREPLACE), symlink/link/readlink(at), getcwd/chdir/fchdir,
 * statfs/fstatfs. */
#include "t.h"
#include <sys/statfs.h>

#define T_RENAME_NOREPLACE 1

struct t_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static char type_char(int dfd, const char *name, unsigned char d_type)
{
    switch (d_type) {
    case DT_REG: return 'f';
    case DT_DIR: return 'd';
    case DT_LNK: return 'l';
    case DT_UNKNOWN: {
        /* allowed by Linux; resolve it the way programs do */
        struct stat st;
        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return '?';
        return S_ISREG(st.st_mode) ? 'f' : S_ISDIR(st.st_mode) ? 'd' : S_ISLNK(st.st_mode) ? 'l' : '?';
    }
    default: return '?';
    }
}

/* Lists a directory with getdents64 using a buffer of bufsize bytes; returns
 * "name:type" entries sorted, joined by spaces. */
static int list_dir(int dfd, size_t bufsize, char *out, size_t outsize)
{
    char *names[64];
    int n = 0;
    char *buf = malloc(bufsize);
    for (;;) {
        long nread = syscall(SYS_getdents64, dfd, buf, bufsize);
        if (nread < 0) {
            free(buf);
            return -1;
        }
        if (nread == 0)
            break;
        for (long off = 0; off < nread;) {
            struct t_dirent64 *d = (struct t_dirent64 *)(buf + off);
            CHECK(d->d_reclen > 0 && d->d_reclen % 8 == 0);
            if (n < 64) {
                char tmp[300];
                snprintf(tmp, sizeof tmp, "%s:%c", d->d_name, type_char(dfd, d->d_name, d->d_type));
                names[n++] = strdup(tmp);
            }
            off += d->d_reclen;
        }
    }
    free(buf);
    qsort(names, (size_t)n, sizeof names[0], cmp_str);
    out[0] = 0;
    for (int i = 0; i < n; i++) {
        if (i)
            strncat(out, " ", outsize - strlen(out) - 1);
        strncat(out, names[i], outsize - strlen(out) - 1);
        free(names[i]);
    }
    return n;
}

static void test_getdents(void)
{
    t_section("getdents64");
    CHECK_EQ(mkdir(t_path("ls"), 0755), 0);
    const char *files[] = {"zeta", "alpha", "Mid", "beta.txt", "a-much-longer-file-name-to-vary-the-record-length"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char p[300];
        snprintf(p, sizeof p, "ls/%s", files[i]);
        CHECK_EQ(t_write_file(t_path(p), "x", 1), 0);
    }
    CHECK_EQ(mkdir(t_path("ls/subdir"), 0755), 0);
    CHECK_EQ(symlink("alpha", t_path("ls/link")), 0);

    int dfd = open(t_path("ls"), O_RDONLY | O_DIRECTORY);
    CHECK(dfd >= 0);
    char out[2048];
    int n = list_dir(dfd, 4096, out, sizeof out);
    printf("entries (%d): %s\n", n, out);
    CHECK_EQ(n, 9);

    /* rewinding gives the same listing; a tiny buffer still works */
    CHECK_EQ(lseek(dfd, 0, SEEK_SET), 0);
    char out2[2048];
    CHECK_EQ(list_dir(dfd, 88, out2, sizeof out2), 9);
    CHECK(strcmp(out, out2) == 0);
    /* a buffer too small for one entry */
    CHECK_EQ(lseek(dfd, 0, SEEK_SET), 0);
    char small[8];
    CHECK_ERR(syscall(SYS_getdents64, dfd, small, sizeof small), EINVAL);
    CHECK_ERR(syscall(SYS_getdents64, -1, small, sizeof small), EBADF);
    int ffd = open(t_path("ls/alpha"), O_RDONLY);
    char big[512];
    CHECK_ERR(syscall(SYS_getdents64, ffd, big, sizeof big), ENOTDIR);
    close(ffd);
    close(dfd);

    /* readdir through the libc, after removing an entry */
    CHECK_EQ(unlink(t_path("ls/zeta")), 0);
    DIR *d = opendir(t_path("ls"));
    CHECK(d != NULL);
    int count = 0;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL)
        count++;
    if (d)
        closedir(d);
    printf("readdir after unlink: %d entries\n", count);
    CHECK_EQ(count, 8);
}

static void test_mkdir_rmdir_unlink(void)
{
    t_section("mkdir/rmdir/unlink");
    CHECK_EQ(mkdir(t_path("d1"), 0755), 0);
    CHECK_ERR(mkdir(t_path("d1"), 0755), EEXIST);
    CHECK_ERR(mkdir(t_path("nope/d2"), 0755), ENOENT);
    int dfd = open(t_dir, O_RDONLY | O_DIRECTORY);
    CHECK_EQ(mkdirat(dfd, "d1/sub", 0700), 0);
    CHECK_ERR(rmdir(t_path("d1")), ENOTEMPTY);
    CHECK_EQ(t_write_file(t_path("d1/sub/f"), "f", 1), 0);
    CHECK_ERR(rmdir(t_path("d1/sub/f")), ENOTDIR);
    CHECK_ERR(unlink(t_path("d1/sub")), EISDIR);
    CHECK_EQ(unlinkat(dfd, "d1/sub/f", 0), 0);
    CHECK_ERR(unlinkat(dfd, "d1/sub/f", 0), ENOENT);
    CHECK_EQ(unlinkat(dfd, "d1/sub", AT_REMOVEDIR), 0);
    CHECK_EQ(rmdir(t_path("d1")), 0);
    CHECK_ERR(rmdir(t_path("d1")), ENOENT);
    CHECK_ERR(rmdir(t_path(".")), EINVAL);
    /* an open file survives unlink */
    int fd = open(t_path("ghost"), O_RDWR | O_CREAT, 0644);
    CHECK_EQ(write(fd, "boo", 3), 3);
    CHECK_EQ(unlink(t_path("ghost")), 0);
    CHECK_ERR(access(t_path("ghost"), F_OK), ENOENT);
    char buf[4] = {0};
    CHECK_EQ(pread(fd, buf, 3, 0), 3);
    CHECK(strcmp(buf, "boo") == 0);
    struct stat st;
    CHECK_EQ(fstat(fd, &st), 0);
    CHECK_EQ(st.st_nlink, 0);
    close(fd);
    /* names are bytes, not necessarily UTF-8 */
    const char *raw = "raw-\xff\xfe-\xc3(";
    CHECK_EQ(mkdirat(dfd, raw, 0755), 0);
    int rfd = openat(dfd, "raw-\xff\xfe-\xc3(/f\x80", O_WRONLY | O_CREAT | O_EXCL, 0644);
    CHECK(rfd >= 0);
    close(rfd);
    char ls[256];
    int rdir = openat(dfd, raw, O_RDONLY | O_DIRECTORY);
    CHECK_EQ(list_dir(rdir, 4096, ls, sizeof ls), 3);
    CHECK(strstr(ls, "f\x80:f") != NULL);
    close(rdir);
    CHECK_EQ(renameat(dfd, "raw-\xff\xfe-\xc3(/f\x80", dfd, "raw-\xff\xfe-\xc3(/g\xff"), 0);
    CHECK_EQ(unlinkat(dfd, "raw-\xff\xfe-\xc3(/g\xff", 0), 0);
    CHECK_EQ(unlinkat(dfd, raw, AT_REMOVEDIR), 0);
    close(dfd);
    printf("mkdir/rmdir/unlink ok, also with names that are not UTF-8\n");
}

static void test_rename(void)
{
    t_section("rename/renameat/renameat2");
    CHECK_EQ(t_write_file(t_path("r1"), "one", 3), 0);
    CHECK_EQ(t_write_file(t_path("r2"), "two", 3), 0);
    CHECK_EQ(rename(t_path("r1"), t_path("r3")), 0);
    CHECK_ERR(access(t_path("r1"), F_OK), ENOENT);
    /* replacing an existing file */
    CHECK_EQ(rename(t_path("r3"), t_path("r2")), 0);
    char buf[8] = {0};
    int fd = open(t_path("r2"), O_RDONLY);
    CHECK_EQ(read(fd, buf, sizeof buf), 3);
    close(fd);
    printf("after rename over: r2=%s\n", buf);
    CHECK(strcmp(buf, "one") == 0);

    int dfd = open(t_dir, O_RDONLY | O_DIRECTORY);
    CHECK_EQ(mkdir(t_path("rd"), 0755), 0);
    CHECK_EQ(renameat(dfd, "r2", dfd, "rd/moved"), 0);
    CHECK_EQ(access(t_path("rd/moved"), F_OK), 0);
    CHECK_ERR(renameat(dfd, "missing", dfd, "x"), ENOENT);

    CHECK_EQ(t_write_file(t_path("n1"), "n1", 2), 0);
    CHECK_EQ(t_write_file(t_path("n2"), "n2", 2), 0);
    CHECK_ERR(syscall(SYS_renameat2, dfd, "n1", dfd, "n2", T_RENAME_NOREPLACE), EEXIST);
    CHECK_EQ(syscall(SYS_renameat2, dfd, "n1", dfd, "n3", T_RENAME_NOREPLACE), 0);
    CHECK_EQ(syscall(SYS_renameat2, dfd, "n3", dfd, "n4", 0), 0);
    CHECK_ERR(syscall(SYS_renameat2, dfd, "n4", dfd, "n5", 0x100), EINVAL);

    /* directories */
    CHECK_EQ(mkdir(t_path("da"), 0755), 0);
    CHECK_EQ(mkdir(t_path("db"), 0755), 0);
    CHECK_EQ(t_write_file(t_path("db/x"), "x", 1), 0);
    CHECK_ERR(rename(t_path("da"), t_path("db")), ENOTEMPTY);
    CHECK_ERR(rename(t_path("da"), t_path("n4")), ENOTDIR);
    CHECK_ERR(rename(t_path("n4"), t_path("da")), EISDIR);
    CHECK_ERR(rename(t_path("da"), t_path("da/inside")), EINVAL);
    CHECK_EQ(rmdir(t_path("db/../da")), 0);
    CHECK_EQ(rename(t_path("db"), t_path("dc")), 0);
    CHECK_EQ(access(t_path("dc/x"), F_OK), 0);
    close(dfd);
    printf("rename ok\n");
}

static void test_links(void)
{
    t_section("symlink/link/readlink");
    CHECK_EQ(t_write_file(t_path("target"), "data", 4), 0);
    CHECK_EQ(symlink("target", t_path("sym")), 0);
    CHECK_ERR(symlink("target", t_path("sym")), EEXIST);
    CHECK_EQ(symlink("does-not-exist", t_path("dangling")), 0);
    char buf[64];
    memset(buf, 'X', sizeof buf);
    CHECK_EQ(readlink(t_path("sym"), buf, sizeof buf), 6);
    CHECK(buf[6] == 'X'); /* not NUL-terminated */
    buf[6] = 0;
    printf("readlink sym -> %s\n", buf);
    CHECK_EQ(readlink(t_path("sym"), buf, 3), 3); /* truncated */
    CHECK(memcmp(buf, "tar", 3) == 0);
    CHECK_ERR(readlink(t_path("target"), buf, sizeof buf), EINVAL);
    CHECK_ERR(readlink(t_path("missing"), buf, sizeof buf), ENOENT);
    int dfd = open(t_dir, O_RDONLY | O_DIRECTORY);
    CHECK_EQ(readlinkat(dfd, "dangling", buf, sizeof buf), 14);
    CHECK_EQ(symlinkat("/an/absolute/target", dfd, "abs"), 0);
    ssize_t n = readlinkat(dfd, "abs", buf, sizeof buf - 1);
    CHECK_EQ(n, 19);
    if (n > 0) {
        buf[n] = 0;
        printf("readlinkat abs -> %s\n", buf);
    }
    CHECK_ERR(open(t_path("dangling"), O_RDONLY), ENOENT);
    CHECK_ERR(open(t_path("sym"), O_RDONLY | O_NOFOLLOW), ELOOP);
    /* a symlink loop */
    CHECK_EQ(symlink("loop2", t_path("loop1")), 0);
    CHECK_EQ(symlink("loop1", t_path("loop2")), 0);
    CHECK_ERR(open(t_path("loop1"), O_RDONLY), ELOOP);
    /* a symlink to a directory, used in the middle of a path */
    CHECK_EQ(mkdir(t_path("realdir"), 0755), 0);
    CHECK_EQ(t_write_file(t_path("realdir/inner"), "in", 2), 0);
    CHECK_EQ(symlink("realdir", t_path("dirlink")), 0);
    CHECK_EQ(access(t_path("dirlink/inner"), F_OK), 0);

    /* hard links share the inode and count */
    CHECK_EQ(link(t_path("target"), t_path("hard")), 0);
    struct stat a, b;
    CHECK_EQ(stat(t_path("target"), &a), 0);
    CHECK_EQ(stat(t_path("hard"), &b), 0);
    CHECK(a.st_ino == b.st_ino);
    printf("nlink after link: %ld %ld\n", (long)a.st_nlink, (long)b.st_nlink);
    CHECK_EQ(a.st_nlink, 2);
    CHECK_EQ(linkat(dfd, "hard", dfd, "hard2", 0), 0);
    CHECK_EQ(stat(t_path("target"), &a), 0);
    CHECK_EQ(a.st_nlink, 3);
    CHECK_EQ(unlink(t_path("hard")), 0);
    CHECK_EQ(unlink(t_path("hard2")), 0);
    CHECK_EQ(stat(t_path("target"), &a), 0);
    CHECK_EQ(a.st_nlink, 1);
    CHECK_ERR(link(t_path("target"), t_path("sym")), EEXIST);
    CHECK_ERR(link(t_path("missing"), t_path("x")), ENOENT);
    CHECK_ERR(link(t_path("realdir"), t_path("dirhard")), EPERM);
    /* linkat without AT_SYMLINK_FOLLOW links the symlink itself */
    CHECK_EQ(linkat(dfd, "sym", dfd, "symhard", 0), 0);
    CHECK_EQ(lstat(t_path("symhard"), &a), 0);
    CHECK(S_ISLNK(a.st_mode));
    close(dfd);
}

static void test_cwd(void)
{
    t_section("getcwd/chdir/fchdir");
    char saved[512], buf[512];
    CHECK(getcwd(saved, sizeof saved) != NULL);
    CHECK_EQ(mkdir(t_path("cwd"), 0755), 0);
    CHECK_EQ(chdir(t_path("cwd")), 0);
    CHECK(getcwd(buf, sizeof buf) != NULL);
    printf("getcwd after chdir matches: %s\n", strcmp(buf, t_path("cwd")) == 0 ? "yes" : "no");
    CHECK(strcmp(buf, t_path("cwd")) == 0);
    /* relative paths now resolve against the new cwd */
    CHECK_EQ(t_write_file("rel", "r", 1), 0);
    CHECK_EQ(access(t_path("cwd/rel"), F_OK), 0);
    CHECK_EQ(chdir(".."), 0);
    CHECK(getcwd(buf, sizeof buf) != NULL);
    CHECK(strcmp(buf, t_dir) == 0);
    CHECK_EQ(access("cwd/rel", F_OK), 0);
    int rfd = open("/", O_RDONLY | O_DIRECTORY);
    CHECK_EQ(fchdir(rfd), 0);
    CHECK(getcwd(buf, sizeof buf) != NULL);
    printf("after fchdir(/): %s\n", buf);
    CHECK(strcmp(buf, "/") == 0);
    close(rfd);
    CHECK_EQ(chdir("/tmp/.."), 0);
    CHECK(getcwd(buf, sizeof buf) != NULL);
    CHECK(strcmp(buf, "/") == 0);
    CHECK_ERR(chdir(t_path("cwd/rel")), ENOTDIR);
    CHECK_ERR(chdir(t_path("missing")), ENOENT);
    CHECK_ERR(fchdir(-1), EBADF);
    CHECK_EQ(chdir(t_dir), 0);
    CHECK_ERR(syscall(SYS_getcwd, buf, 2), ERANGE);
    /* a removed cwd */
    CHECK_EQ(mkdir(t_path("gone"), 0755), 0);
    CHECK_EQ(chdir(t_path("gone")), 0);
    CHECK_EQ(rmdir(t_path("gone")), 0);
    CHECK_ERR(syscall(SYS_getcwd, buf, sizeof buf), ENOENT);
    CHECK_EQ(chdir(saved), 0);
}

static void test_statfs(void)
{
    t_section("statfs/fstatfs");
    struct statfs sf;
    CHECK_EQ(statfs(t_dir, &sf), 0);
    CHECK(sf.f_bsize > 0);
    CHECK(sf.f_namelen >= 255);
    CHECK(sf.f_bfree <= sf.f_blocks);
    int fd = open(t_dir, O_RDONLY);
    CHECK_EQ(fstatfs(fd, &sf), 0);
    CHECK(sf.f_bsize > 0);
    close(fd);
    CHECK_ERR(statfs(t_path("missing"), &sf), ENOENT);
    CHECK_ERR(fstatfs(-1, &sf), EBADF);
    printf("statfs ok\n");
}

int main(void)
{
    umask(022);
    t_mkdir("dirs");
    test_getdents();
    test_mkdir_rmdir_unlink();
    test_rename();
    test_links();
    test_cwd();
    test_statfs();
    t_cleanup();
    return t_finish("dirs");
}
