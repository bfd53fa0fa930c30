/* Time and randomness: clock_gettime/clock_getres/gettimeofday/time
 * (monotonicity and consistency), nanosleep/clock_nanosleep (at least the
 * requested duration), getrandom. */
#include "t.h"
#include <pthread.h>
#include <sys/random.h>
#include <sys/time.h>
#include <time.h>

static long long ns_of(const struct timespec *ts)
{
    return (long long)ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

static long long now_ns(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return ns_of(&ts);
}

static void test_clocks(void)
{
    t_section("clock_gettime/clock_getres");
    static const struct {
        clockid_t id;
        const char *name;
    } clocks[] = {
        {CLOCK_REALTIME, "CLOCK_REALTIME"},
        {CLOCK_MONOTONIC, "CLOCK_MONOTONIC"},
        {CLOCK_MONOTONIC_RAW, "CLOCK_MONOTONIC_RAW"},
        {CLOCK_REALTIME_COARSE, "CLOCK_REALTIME_COARSE"},
        {CLOCK_MONOTONIC_COARSE, "CLOCK_MONOTONIC_COARSE"},
        {CLOCK_BOOTTIME, "CLOCK_BOOTTIME"},
        {CLOCK_PROCESS_CPUTIME_ID, "CLOCK_PROCESS_CPUTIME_ID"},
        {CLOCK_THREAD_CPUTIME_ID, "CLOCK_THREAD_CPUTIME_ID"},
    };
    for (size_t i = 0; i < sizeof clocks / sizeof clocks[0]; i++) {
        struct timespec a, b, res;
        int ok = 1;
        ok &= clock_gettime(clocks[i].id, &a) == 0;
        for (volatile int k = 0; k < 100000; k++)
            ;
        ok &= clock_gettime(clocks[i].id, &b) == 0;
        ok &= a.tv_nsec >= 0 && a.tv_nsec < 1000000000 && b.tv_nsec >= 0 && b.tv_nsec < 1000000000;
        ok &= ns_of(&b) >= ns_of(&a);
        ok &= clock_getres(clocks[i].id, &res) == 0;
        ok &= res.tv_sec == 0 && res.tv_nsec > 0 && res.tv_nsec <= 10000000;
        printf("%s: %s\n", clocks[i].name, ok ? "ok" : "BAD");
        CHECK(ok);
    }
    /* many monotonic reads never go backwards */
    long long prev = now_ns(CLOCK_MONOTONIC);
    int backwards = 0;
    for (int i = 0; i < 100000; i++) {
        long long t = now_ns(CLOCK_MONOTONIC);
        backwards += t < prev;
        prev = t;
    }
    CHECK_EQ(backwards, 0);
    struct timespec ts;
    CHECK_ERR(clock_gettime((clockid_t)12345, &ts), EINVAL);
    CHECK_ERR(clock_getres((clockid_t)12345, &ts), EINVAL);
    CHECK_EQ(clock_getres(CLOCK_MONOTONIC, NULL), 0);
    CHECK_ERR(syscall(SYS_clock_gettime, CLOCK_MONOTONIC, t_bad_ptr(8)), EFAULT);
}

static volatile int cpu_stop;
static volatile pid_t cpu_tid;

static void *cpu_spinner(void *arg)
{
    (void)arg;
    cpu_tid = (pid_t)syscall(SYS_gettid);
    while (!cpu_stop)
        ;
    return NULL;
}

/* CPU-time clocks of a process and of a thread (clock_getcpuclockid, pthread_getcpuclockid):
 * the ids encode a pid or tid, read through libc (the vDSO, under myst) */
static void test_cpu_clocks(void)
{
    t_section("CPU-time clocks of processes and threads");
    clockid_t self_c, pid_c, thr_c;
    CHECK_EQ(clock_getcpuclockid(0, &self_c), 0);
    CHECK_EQ(clock_getcpuclockid(getpid(), &pid_c), 0);
    pthread_t t;
    cpu_stop = 0;
    cpu_tid = 0;
    CHECK_EQ(pthread_create(&t, NULL, cpu_spinner, NULL), 0);
    while (!cpu_tid)
        usleep(1000);
    CHECK_EQ(pthread_getcpuclockid(t, &thr_c), 0);
    long long t0 = now_ns(thr_c), p0 = now_ns(pid_c), s0 = now_ns(self_c), m0 = now_ns(CLOCK_THREAD_CPUTIME_ID);
    usleep(100000); /* the spinner runs meanwhile; this thread sleeps */
    long long t1 = now_ns(thr_c), p1 = now_ns(pid_c), s1 = now_ns(self_c), m1 = now_ns(CLOCK_THREAD_CPUTIME_ID);
    cpu_stop = 1;
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK(t1 - t0 > 20 * 1000000LL); /* the spinner's clock ran */
    CHECK(p1 - p0 > 20 * 1000000LL && s1 - s0 > 20 * 1000000LL);
    CHECK(m1 - m0 < t1 - t0); /* meanwhile this thread used less CPU than the spinner */
    struct timespec ts;
    pid_t gone = cpu_tid;
    clockid_t gone_c = (clockid_t)((~(clockid_t)gone) << 3) | 4 | 2; /* a thread that has ended */
    usleep(10000);
    CHECK_ERR(clock_gettime(gone_c, &ts), EINVAL);
    printf("a spinning thread's clock and the process clock advance while the reader sleeps; an ended thread's clock is EINVAL\n");
}

static void test_wallclock(void)
{
    t_section("gettimeofday/time");
    struct timespec rt;
    struct timeval tv;
    CHECK_EQ(clock_gettime(CLOCK_REALTIME, &rt), 0);
    CHECK_EQ(gettimeofday(&tv, NULL), 0);
    time_t t = time(NULL);
    CHECK(tv.tv_usec >= 0 && tv.tv_usec < 1000000);
    long long diff = (long long)tv.tv_sec * 1000000 + tv.tv_usec - ns_of(&rt) / 1000;
    CHECK(diff >= 0 && diff < 1000000);
    /* time() reads the coarse clock (the last tick's seconds) on Linux, so right at a
     * second boundary it may still show the previous second */
    CHECK(t >= rt.tv_sec - 1 && t <= rt.tv_sec + 1);
    CHECK(rt.tv_sec > 1577836800); /* after 2020-01-01 */
    time_t t2;
    CHECK(time(&t2) >= t && t2 >= t);
    CHECK_EQ(syscall(SYS_time, NULL) >= t, 1);
    struct timezone tz;
    CHECK_EQ(gettimeofday(&tv, &tz), 0);
    /* realtime and monotonic advance together */
    long long r0 = now_ns(CLOCK_REALTIME), m0 = now_ns(CLOCK_MONOTONIC);
    struct timespec d = {0, 30000000};
    nanosleep(&d, NULL);
    long long r1 = now_ns(CLOCK_REALTIME), m1 = now_ns(CLOCK_MONOTONIC);
    long long skew = (r1 - r0) - (m1 - m0);
    CHECK(skew > -5000000 && skew < 5000000);
    printf("wall clock consistent with monotonic: %s\n",
           skew > -5000000 && skew < 5000000 ? "yes" : "no");
}

static void test_sleep(void)
{
    t_section("nanosleep/clock_nanosleep");
    long long a = now_ns(CLOCK_MONOTONIC);
    struct timespec req = {0, 20000000}, rem = {7, 7};
    CHECK_EQ(nanosleep(&req, &rem), 0);
    long long b = now_ns(CLOCK_MONOTONIC);
    printf("nanosleep 20ms slept >= 20ms: %s\n", b - a >= 20000000 ? "yes" : "no");
    CHECK(b - a >= 20000000);

    req.tv_nsec = 15000000;
    CHECK_EQ(clock_nanosleep(CLOCK_MONOTONIC, 0, &req, NULL), 0);
    long long c = now_ns(CLOCK_MONOTONIC);
    CHECK(c - b >= 15000000);

    struct timespec abs;
    clock_gettime(CLOCK_MONOTONIC, &abs);
    abs.tv_nsec += 25000000;
    if (abs.tv_nsec >= 1000000000) {
        abs.tv_sec++;
        abs.tv_nsec -= 1000000000;
    }
    CHECK_EQ(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, NULL), 0);
    CHECK(now_ns(CLOCK_MONOTONIC) >= ns_of(&abs));
    /* an absolute time in the past returns at once */
    abs.tv_sec -= 100;
    CHECK_EQ(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, NULL), 0);
    /* realtime absolute */
    struct timespec rabs;
    clock_gettime(CLOCK_REALTIME, &rabs);
    rabs.tv_nsec += 10000000;
    if (rabs.tv_nsec >= 1000000000) {
        rabs.tv_sec++;
        rabs.tv_nsec -= 1000000000;
    }
    CHECK_EQ(clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &rabs, NULL), 0);
    CHECK(now_ns(CLOCK_REALTIME) >= ns_of(&rabs));

    struct timespec zero = {0, 0};
    CHECK_EQ(nanosleep(&zero, NULL), 0);
    struct timespec bad = {0, 1000000000};
    CHECK_ERR(nanosleep(&bad, NULL), EINVAL);
    bad.tv_sec = -1;
    bad.tv_nsec = 0;
    CHECK_ERR(nanosleep(&bad, NULL), EINVAL);
    /* clock_nanosleep returns the error instead of setting errno */
    CHECK_EQ(clock_nanosleep(CLOCK_MONOTONIC, 0, &bad, NULL), EINVAL);
    CHECK_EQ(clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &zero, NULL), EINVAL);
    CHECK_EQ(usleep(1000), 0);
}

static void test_random(void)
{
    t_section("getrandom");
    unsigned char a[64], b[64];
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    CHECK_EQ(getrandom(a, sizeof a, 0), 64);
    CHECK_EQ(getrandom(b, sizeof b, GRND_NONBLOCK), 64);
    CHECK(memcmp(a, b, sizeof a) != 0);
    int zeros = 0;
    for (size_t i = 0; i < sizeof a; i++)
        zeros += a[i] == 0;
    CHECK(zeros < 16);
    /* a large request is served (Linux may return fewer than asked past 32 MiB) */
    size_t big = 1 << 20;
    unsigned char *p = calloc(1, big);
    ssize_t n = getrandom(p, big, 0);
    CHECK(n > 0 && (size_t)n <= big);
    long ones = 0;
    for (ssize_t i = 0; i < n; i++)
        ones += __builtin_popcount(p[i]);
    /* about half of the bits are set */
    CHECK(n > 0 && ones > n * 8 * 45 / 100 && ones < n * 8 * 55 / 100);
    free(p);
    CHECK_EQ(getrandom(a, 0, 0), 0);
    CHECK_ERR(getrandom(a, sizeof a, 0x1000), EINVAL);
    CHECK_ERR(getrandom(t_bad_ptr(64), 16, 0), EFAULT);
    printf("getrandom ok\n");
}

int main(void)
{
    test_cpu_clocks();
    test_clocks();
    test_wallclock();
    test_sleep();
    test_random();
    return t_finish("time");
}
