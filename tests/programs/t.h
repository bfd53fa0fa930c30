/* Shared helpers for the myst program tests.
 *
 * Every test program prints only facts that are the same natively and under
 * myst (no pids, times, addresses or inode numbers), checks each result with
 * CHECK/CHECK_ERR, and exits 1 if any check failed.  Builds with glibc and
 * musl, dynamic and static.
 */
#ifndef MYST_TEST_T_H
#define MYST_TEST_T_H

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#define T_FN static __attribute__((unused))

static int t_failures;
static int t_checks;

/* errno name, independent of the libc's strerror text. */
T_FN const char *t_errname(int e)
{
    switch (e) {
    case 0: return "0";
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case ESRCH: return "ESRCH";
    case EINTR: return "EINTR";
    case EIO: return "EIO";
    case ENXIO: return "ENXIO";
    case E2BIG: return "E2BIG";
    case ENOEXEC: return "ENOEXEC";
    case EBADF: return "EBADF";
    case ECHILD: return "ECHILD";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EFAULT: return "EFAULT";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case EXDEV: return "EXDEV";
    case ENODEV: return "ENODEV";
    case ENOTDIR: return "ENOTDIR";
    case EISDIR: return "EISDIR";
    case EINVAL: return "EINVAL";
    case ENFILE: return "ENFILE";
    case EMFILE: return "EMFILE";
    case ENOTTY: return "ENOTTY";
    case EFBIG: return "EFBIG";
    case ENOSPC: return "ENOSPC";
    case ESPIPE: return "ESPIPE";
    case EROFS: return "EROFS";
    case EMLINK: return "EMLINK";
    case EPIPE: return "EPIPE";
    case ERANGE: return "ERANGE";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case ENOSYS: return "ENOSYS";
    case ENOTEMPTY: return "ENOTEMPTY";
    case ELOOP: return "ELOOP";
    case EOVERFLOW: return "EOVERFLOW";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    default: {
        static char buf[32];
        snprintf(buf, sizeof buf, "errno%d", e);
        return buf;
    }
    }
}

#define CHECK(cond)                                                          \
    do {                                                                     \
        __atomic_add_fetch(&t_checks, 1, __ATOMIC_RELAXED); /* threads check too */ \
        if (!(cond)) {                                                       \
            int e_ = errno;                                                  \
            printf("FAIL %s:%d: %s (errno %s)\n", __FILE__, __LINE__, #cond, \
                   t_errname(e_));                                           \
            __atomic_add_fetch(&t_failures, 1, __ATOMIC_RELAXED);            \
        }                                                                    \
    } while (0)

/* Check that expr returns -1 with errno e. */
#define CHECK_ERR(expr, e)                                                   \
    do {                                                                     \
        __atomic_add_fetch(&t_checks, 1, __ATOMIC_RELAXED); /* threads check too */ \
        errno = 0;                                                           \
        long r_ = (long)(expr);                                              \
        int e_ = errno;                                                      \
        if (r_ != -1 || e_ != (e)) {                                         \
            printf("FAIL %s:%d: %s: want -1/%s, got %ld/%s\n", __FILE__,     \
                   __LINE__, #expr, t_errname(e), r_, t_errname(e_));        \
            __atomic_add_fetch(&t_failures, 1, __ATOMIC_RELAXED);            \
        }                                                                    \
    } while (0)

/* Check that expr == want (both as long). */
#define CHECK_EQ(expr, want)                                                 \
    do {                                                                     \
        __atomic_add_fetch(&t_checks, 1, __ATOMIC_RELAXED); /* threads check too */ \
        errno = 0;                                                           \
        long r_ = (long)(expr);                                              \
        long w_ = (long)(want);                                              \
        int e_ = errno;                                                      \
        if (r_ != w_) {                                                      \
            printf("FAIL %s:%d: %s: want %ld, got %ld (errno %s)\n",         \
                   __FILE__, __LINE__, #expr, w_, r_, t_errname(e_));        \
            __atomic_add_fetch(&t_failures, 1, __ATOMIC_RELAXED);            \
        }                                                                    \
    } while (0)

T_FN void t_section(const char *name)
{
    printf("== %s\n", name);
}

/* Prints the verdict and returns the exit status for main. */
/* Forking test programs: t_fork() flushes stdio first (buffered output is not duplicated)
 * and remembers the failure count; a child ends with t_child_exit(code), which becomes 1
 * if the child failed a check of its own (its FAIL lines are flushed first). */
static int t_child_base;

T_FN pid_t t_fork(void)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0)
        t_child_base = t_failures;
    return pid;
}

T_FN void t_child_exit(int code)
{
    fflush(stdout);
    _exit(t_failures > t_child_base ? 1 : code);
}

T_FN int t_finish(const char *prog)
{
    if (t_failures)
        printf("%s: %d of %d checks FAILED\n", prog, t_failures, t_checks);
    else
        printf("%s: all %d checks passed\n", prog, t_checks);
    fflush(stdout);
    return t_failures ? 1 : 0;
}

/* A scratch directory /tmp/myst-<prog>-<pid>, made fresh. */
static char t_dir[256];

T_FN const char *t_mkdir(const char *prog)
{
    snprintf(t_dir, sizeof t_dir, "/tmp/myst-%s-%ld", prog, (long)getpid());
    if (mkdir(t_dir, 0755) != 0) {
        printf("FATAL: mkdir %s: %s\n", t_dir, t_errname(errno));
        exit(2);
    }
    return t_dir;
}

/* t_path("x") -> "<t_dir>/x", in one of a few rotating static buffers. */
T_FN const char *t_path(const char *name)
{
    static char bufs[8][1024];
    static int next;
    char *b = bufs[next++ & 7];
    snprintf(b, 1024, "%s/%s", t_dir, name);
    return b;
}

T_FN void t_rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        chmod(path, 0755);
        DIR *d = opendir(path);
        if (d) {
            struct dirent *de;
            while ((de = readdir(d)) != NULL) {
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                    continue;
                char sub[1024];
                snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
                t_rm_rf(sub);
            }
            closedir(d);
        }
        if (rmdir(path) != 0)
            printf("FAIL cleanup: rmdir %s: %s\n", path, t_errname(errno)), t_failures++;
    } else if (unlink(path) != 0) {
        printf("FAIL cleanup: unlink %s: %s\n", path, t_errname(errno)), t_failures++;
    }
}

T_FN void t_cleanup(void)
{
    if (t_dir[0])
        t_rm_rf(t_dir);
}

/* Write a whole file (creating or truncating it). */
T_FN int t_write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n <= 0) {
            close(fd);
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return close(fd);
}

/* -1, hidden from the compiler's argument checks. */
T_FN int t_minus1(void)
{
    volatile int x = -1;
    return x;
}

/* A pointer the compiler cannot see through: for EFAULT tests. */
T_FN void *t_bad_ptr(uintptr_t v)
{
    volatile uintptr_t x = v;
    return (void *)x;
}

#endif
