/* Process information: getpid/getppid/gettid, uid/gid, getgroups, uname,
 * sysinfo, getrlimit/setrlimit/prlimit64, getrusage, times,
 * sched_getaffinity, sched_yield. */
#include "t.h"
#include <sched.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <sys/times.h>
#include <sys/utsname.h>

static void test_ids(void)
{
    t_section("ids");
    pid_t pid = getpid();
    CHECK(pid > 0);
    CHECK_EQ(syscall(SYS_getpid), pid);
    CHECK_EQ(syscall(SYS_gettid), pid); /* single-threaded: tid == pid */
    pid_t ppid = getppid();
    CHECK(ppid >= 0);
    CHECK(ppid != pid);
    printf("gettid == getpid: %s\n", syscall(SYS_gettid) == pid ? "yes" : "no");

    CHECK(getuid() == geteuid());
    CHECK(getgid() == getegid());
    uid_t r, e, s;
    CHECK_EQ(getresuid(&r, &e, &s), 0);
    CHECK(r == getuid() && e == geteuid() && s == geteuid());
    gid_t gr, ge, gs;
    CHECK_EQ(getresgid(&gr, &ge, &gs), 0);
    CHECK(gr == getgid() && ge == getegid() && gs == getegid());
    printf("uid == euid: yes, gid == egid: yes\n");

    int n = getgroups(0, NULL);
    CHECK(n >= 0);
    gid_t groups[256];
    if (n >= 0 && n <= 256) {
        CHECK_EQ(getgroups(n, groups), n);
        if (n > 1)
            CHECK_ERR(getgroups(n - 1, groups), EINVAL);
    }
    CHECK_ERR(getgroups(t_minus1(), groups), EINVAL);
    printf("getgroups ok\n");
    /* setting ids to themselves (or -1: unchanged) always works; a stray third register
     * is not an argument of setreuid/setregid */
    CHECK_EQ(syscall(SYS_setreuid, -1, -1, 0x12345), 0);
    CHECK_EQ(syscall(SYS_setregid, -1, -1, 0x12345), 0);
    CHECK_EQ(setreuid(getuid(), (uid_t)-1), 0);
    CHECK_EQ(setresgid((gid_t)-1, getegid(), (gid_t)-1), 0);
    printf("setreuid/setregid/setresgid to the same ids ok\n");
}

static void test_uname(void)
{
    t_section("uname");
    struct utsname u;
    memset(&u, 0, sizeof u);
    CHECK_EQ(uname(&u), 0);
    printf("sysname=%s machine=%s\n", u.sysname, u.machine);
    CHECK(strcmp(u.sysname, "Linux") == 0);
    CHECK(strcmp(u.machine, "x86_64") == 0);
    CHECK(u.release[0] != 0);
    CHECK(u.version[0] != 0);
    CHECK(u.nodename[0] != 0);
    /* the release starts with a digit and has a dot: "6.1.0..." */
    CHECK(u.release[0] >= '0' && u.release[0] <= '9' && strchr(u.release, '.') != NULL);
}

static void test_sysinfo(void)
{
    t_section("sysinfo");
    struct sysinfo si;
    memset(&si, 0, sizeof si);
    CHECK_EQ(sysinfo(&si), 0);
    CHECK(si.mem_unit >= 1);
    CHECK(si.totalram > 0);
    CHECK(si.freeram <= si.totalram);
    CHECK(si.procs >= 1);
    CHECK((long)si.uptime >= 0);
    CHECK_ERR(sysinfo(t_bad_ptr(16)), EFAULT);
    printf("sysinfo ok\n");
}

static void test_rlimits(void)
{
    t_section("rlimits");
    struct rlimit rl, orig;
    CHECK_EQ(getrlimit(RLIMIT_NOFILE, &orig), 0);
    CHECK(orig.rlim_cur <= orig.rlim_max);
    CHECK(orig.rlim_cur >= 64);
    rl = orig;
    rl.rlim_cur = 64;
    CHECK_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);
    CHECK_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
    printf("RLIMIT_NOFILE soft after set: %ld\n", (long)rl.rlim_cur);
    CHECK_EQ(rl.rlim_cur, 64);
    CHECK(rl.rlim_max == orig.rlim_max);

    /* the soft limit is enforced for new descriptors */
    CHECK_ERR(dup2(0, 64), EBADF);
    CHECK_ERR(fcntl(0, F_DUPFD, 64), EINVAL);

    /* prlimit64 round trip: set new, get old */
    struct rlimit nw = {.rlim_cur = 100, .rlim_max = orig.rlim_max}, old;
    CHECK_EQ(prlimit(0, RLIMIT_NOFILE, &nw, &old), 0);
    CHECK_EQ(old.rlim_cur, 64);
    CHECK_EQ(syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &old), 0);
    CHECK_EQ(old.rlim_cur, 100);
    CHECK_EQ(prlimit(getpid(), RLIMIT_NOFILE, NULL, &old), 0);
    CHECK_EQ(old.rlim_cur, 100);

    /* soft above hard is refused */
    if (orig.rlim_max != RLIM_INFINITY) {
        struct rlimit bad = {.rlim_cur = orig.rlim_max + 1, .rlim_max = orig.rlim_max};
        CHECK_ERR(setrlimit(RLIMIT_NOFILE, &bad), EINVAL);
    }
    CHECK_EQ(setrlimit(RLIMIT_NOFILE, &orig), 0);

    CHECK_EQ(getrlimit(RLIMIT_STACK, &rl), 0);
    CHECK(rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= 128 * 1024);
    CHECK_EQ(getrlimit(RLIMIT_AS, &rl), 0);
    CHECK_EQ(getrlimit(RLIMIT_CORE, &rl), 0);
    struct rlimit lowered = rl;
    lowered.rlim_cur = 0;
    CHECK_EQ(setrlimit(RLIMIT_CORE, &lowered), 0);
    CHECK_EQ(getrlimit(RLIMIT_CORE, &lowered), 0);
    CHECK_EQ(lowered.rlim_cur, 0);
    CHECK_ERR(getrlimit(1000, &rl), EINVAL);
    printf("rlimits ok\n");
}

static void test_usage(void)
{
    t_section("getrusage/times");
    /* burn a little CPU so that the counters may move */
    volatile unsigned long x = 0;
    for (unsigned long i = 0; i < 20000000; i++)
        x += i;
    struct rusage ru;
    CHECK_EQ(getrusage(RUSAGE_SELF, &ru), 0);
    CHECK(ru.ru_utime.tv_sec >= 0 && ru.ru_utime.tv_usec >= 0 && ru.ru_utime.tv_usec < 1000000);
    CHECK(ru.ru_stime.tv_usec >= 0 && ru.ru_stime.tv_usec < 1000000);
    CHECK(ru.ru_maxrss >= 0);
    CHECK_EQ(getrusage(RUSAGE_CHILDREN, &ru), 0);
    CHECK_EQ(getrusage(RUSAGE_THREAD, &ru), 0);
    CHECK_ERR(getrusage(42, &ru), EINVAL);
    struct tms t;
    clock_t c = times(&t);
    CHECK(c != (clock_t)-1);
    CHECK(t.tms_utime >= 0 && t.tms_stime >= 0 && t.tms_cutime >= 0 && t.tms_cstime >= 0);
    CHECK(times(NULL) != (clock_t)-1);
    CHECK_EQ(sysconf(_SC_CLK_TCK), 100);
    printf("usage ok\n");
}

static void test_sched(void)
{
    t_section("sched");
    cpu_set_t set;
    CPU_ZERO(&set);
    CHECK_EQ(sched_getaffinity(0, sizeof set, &set), 0);
    int n = CPU_COUNT(&set);
    printf("affinity has at least one cpu: %s\n", n >= 1 ? "yes" : "no");
    CHECK(n >= 1);
    long raw = syscall(SYS_sched_getaffinity, 0, sizeof set, &set);
    CHECK(raw >= 8 && raw <= (long)sizeof set && raw % 8 == 0);
    CHECK_ERR(syscall(SYS_sched_getaffinity, 0, 3, &set), EINVAL);
    CHECK_EQ(sched_yield(), 0);
    CHECK_EQ(sched_getaffinity(getpid(), sizeof set, &set), 0);
}

/* /proc/<pid>/task/<tid> holds the thread's entries but no "task" of its own (a walk of
 * /proc ends). */
static void test_proc_task(void)
{
    t_section("/proc/self/task");
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d", (int)syscall(SYS_gettid));
    DIR *d = opendir(path);
    CHECK(d != NULL);
    int has_task = 0, has_status = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, "task") == 0)
            has_task = 1;
        if (strcmp(e->d_name, "status") == 0)
            has_status = 1;
    }
    if (d)
        closedir(d);
    CHECK_EQ(has_task, 0);
    CHECK_EQ(has_status, 1);
    strcat(path, "/task");
    struct stat st;
    CHECK_ERR(stat(path, &st), ENOENT);
    printf("/proc/self/task/<tid>: status, no task\n");
}

int main(void)
{
    test_ids();
    test_uname();
    test_sysinfo();
    test_rlimits();
    test_usage();
    test_sched();
    test_proc_task();
    return t_finish("procinfo");
}
