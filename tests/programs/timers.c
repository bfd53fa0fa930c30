/* Timers and event fds: alarm, setitimer/getitimer ITIMER_REAL (one-shot and
 * interval), timer_create (SIGEV_SIGNAL, SIGEV_THREAD_ID, SIGEV_NONE) with
 * timer_settime/gettime/getoverrun/delete, timerfd_create/settime/gettime and
 * its expiration count, eventfd counter and EFD_SEMAPHORE, signalfd reading a
 * blocked signal, clock_nanosleep TIMER_ABSTIME, CPU-time POSIX timers (process,
 * thread, another thread's pthread_getcpuclockid clock).  Only counts that do not
 * depend on timing are printed; timing-dependent ones are checked as
 * lower bounds. */
#include "t.h"
#include <sys/wait.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <time.h>

#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid /* glibc < 2.41 */
#endif

static volatile sig_atomic_t got_alrm, got_usr, got_code, got_value;
static volatile pid_t got_tid;
static void *ev_writer(void *arg);

static void alrm_handler(int sig)
{
    (void)sig;
    got_alrm++;
}

static void info_handler(int sig, siginfo_t *si, void *ctx)
{
    (void)sig;
    (void)ctx;
    got_usr++;
    got_code = si->si_code;
    got_value = si->si_value.sival_int;
    got_tid = (pid_t)syscall(SYS_gettid);
}

/* info_handler for `sig`, with SA_SIGINFO. */
static int set_info_handler(int sig)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = info_handler;
    sa.sa_flags = SA_SIGINFO;
    return sigaction(sig, &sa, NULL);
}

static long ms_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

static void wait_for(volatile sig_atomic_t *v, int n, int max_ms)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (*v < n && ms_since(&t0) < max_ms)
        usleep(1000);
}

/* Runs first: the first timer of the run is armed by a child that then exits; the
 * parent's timers must still fire (the timer service must not die with the child). */
static void test_timer_after_child(void)
{
    t_section("a child arms the first timer and exits");
    pid_t p = fork();
    if (p == 0) {
        alarm(100);
        usleep(10000);
        _exit(0);
    }
    CHECK(p > 0);
    CHECK_EQ(waitpid(p, NULL, 0), p);
    signal(SIGALRM, alrm_handler);
    got_alrm = 0;
    alarm(1);
    wait_for(&got_alrm, 1, 5000);
    CHECK_EQ(got_alrm, 1);
    signal(SIGALRM, SIG_DFL);
    printf("the parent's alarm fires after the child's timer went away\n");
}

static void test_alarm(void)
{
    t_section("alarm");
    signal(SIGALRM, alrm_handler);
    got_alrm = 0;
    CHECK_EQ(alarm(10), 0);
    unsigned left = alarm(0); /* cancel; the old one had ~10 s left */
    CHECK(left >= 9 && left <= 10);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_EQ(alarm(1), 0);
    while (!got_alrm && ms_since(&t0) < 5000)
        pause();
    long ms = ms_since(&t0);
    CHECK_EQ(got_alrm, 1);
    CHECK(ms >= 990);
    CHECK_EQ(alarm(0), 0);
    printf("alarm(10) then alarm(0): 9..10 left; alarm(1): one SIGALRM after >= 1 s\n");
}

static void test_itimer(void)
{
    t_section("setitimer");
    signal(SIGALRM, alrm_handler);
    got_alrm = 0;
    struct itimerval it = {{0, 0}, {0, 50000}}, old, cur;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_EQ(setitimer(ITIMER_REAL, &it, NULL), 0);
    CHECK_EQ(getitimer(ITIMER_REAL, &cur), 0);
    CHECK(cur.it_value.tv_sec == 0 && cur.it_value.tv_usec > 0 && cur.it_value.tv_usec <= 50000);
    CHECK(cur.it_interval.tv_sec == 0 && cur.it_interval.tv_usec == 0);
    wait_for(&got_alrm, 1, 5000);
    CHECK_EQ(got_alrm, 1);
    CHECK(ms_since(&t0) >= 49);
    usleep(100000);
    CHECK_EQ(got_alrm, 1); /* one-shot */
    CHECK_EQ(getitimer(ITIMER_REAL, &cur), 0);
    CHECK(cur.it_value.tv_sec == 0 && cur.it_value.tv_usec == 0);
    printf("one-shot 50 ms: one SIGALRM, then disarmed\n");

    got_alrm = 0;
    it.it_value.tv_usec = 20000;
    it.it_interval.tv_usec = 20000;
    CHECK_EQ(setitimer(ITIMER_REAL, &it, NULL), 0);
    CHECK_EQ(getitimer(ITIMER_REAL, &cur), 0);
    CHECK_EQ(cur.it_interval.tv_usec, 20000);
    wait_for(&got_alrm, 3, 5000);
    struct itimerval off = {{0, 0}, {0, 0}};
    CHECK_EQ(setitimer(ITIMER_REAL, &off, &old), 0);
    CHECK(got_alrm >= 3);
    CHECK_EQ(old.it_interval.tv_usec, 20000);
    int n = got_alrm;
    usleep(60000);
    CHECK_EQ(got_alrm, n); /* stopped */
    printf("interval 20 ms: 3 ticks counted, then stopped (old value returned)\n");
    CHECK_ERR(setitimer(99, &it, NULL), EINVAL);
    signal(SIGALRM, SIG_DFL);

    /* CPU-time timers count CPU time, not wall time: asleep they do not advance; spinning
     * they fire (SIGVTALRM for user time, SIGPROF for user + system) */
    int which[2] = {ITIMER_VIRTUAL, ITIMER_PROF};
    int sigs[2] = {SIGVTALRM, SIGPROF};
    for (int k = 0; k < 2; k++) {
        CHECK_EQ(set_info_handler(sigs[k]), 0);
        got_usr = 0;
        struct itimerval cpu = {{0, 0}, {0, 30000}};
        CHECK_EQ(setitimer(which[k], &cpu, NULL), 0);
        usleep(150000); /* 150 ms asleep: far less than 30 ms of CPU */
        CHECK_EQ(got_usr, 0);
        CHECK_EQ(getitimer(which[k], &cur), 0);
        /* still armed, at most what was set (Linux may round up to its clock tick) */
        CHECK(cur.it_value.tv_sec == 0 && cur.it_value.tv_usec > 0 && cur.it_value.tv_usec <= 30000 + 10000);
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        volatile unsigned long spin = 0;
        while (!got_usr && ms_since(&t0) < 10000)
            spin++;
        CHECK_EQ(got_usr, 1);
        CHECK_EQ(got_code, SI_KERNEL);
        CHECK_EQ(getitimer(which[k], &cur), 0);
        CHECK(cur.it_value.tv_sec == 0 && cur.it_value.tv_usec == 0);
        signal(sigs[k], SIG_DFL);
    }
    printf("ITIMER_VIRTUAL and ITIMER_PROF: not advanced by sleep, fire after 30 ms of CPU (SI_KERNEL)\n");
}

static void test_posix_timers(void)
{
    t_section("timer_create");
    CHECK_EQ(set_info_handler(SIGUSR1), 0);

    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIGUSR1;
    sev.sigev_value.sival_int = 321;
    timer_t t;
    CHECK_EQ(timer_create(CLOCK_MONOTONIC, &sev, &t), 0);
    struct itimerspec its = {{0, 0}, {0, 30 * 1000000L}}, cur;
    got_usr = 0;
    CHECK_EQ(timer_settime(t, 0, &its, NULL), 0);
    CHECK_EQ(timer_gettime(t, &cur), 0);
    CHECK(cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0 && cur.it_value.tv_nsec <= 30 * 1000000L);
    wait_for(&got_usr, 1, 5000);
    CHECK_EQ(got_usr, 1);
    CHECK_EQ(got_code, SI_TIMER);
    CHECK_EQ(got_value, 321);
    CHECK_EQ(timer_gettime(t, &cur), 0);
    CHECK(cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0);
    printf("SIGEV_SIGNAL one-shot: si_code SI_TIMER, si_value 321, then disarmed\n");

    /* overruns: the signal is blocked while the interval timer fires */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    got_usr = 0;
    its.it_value.tv_nsec = 10 * 1000000L;
    its.it_interval.tv_nsec = 10 * 1000000L;
    CHECK_EQ(timer_settime(t, 0, &its, NULL), 0);
    usleep(150000);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    struct timespec z = {1, 0};
    CHECK_EQ(sigtimedwait(&set, &si, &z), SIGUSR1);
    CHECK_EQ(si.si_code, SI_TIMER);
    CHECK(si.si_overrun >= 3);
    struct itimerspec off = {{0, 0}, {0, 0}};
    CHECK_EQ(timer_settime(t, 0, &off, &cur), 0);
    CHECK_EQ(cur.it_interval.tv_nsec, 10 * 1000000L);
    CHECK(timer_getoverrun(t) >= 0);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    CHECK_EQ(timer_delete(t), 0);
    printf("interval 10 ms with the signal blocked 150 ms: one signal, si_overrun >= 3\n");

    /* absolute time, realtime clock */
    CHECK_EQ(timer_create(CLOCK_REALTIME, &sev, &t), 0);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    its.it_interval.tv_nsec = 0;
    its.it_value = now;
    its.it_value.tv_nsec += 20 * 1000000L;
    if (its.it_value.tv_nsec >= 1000000000L) {
        its.it_value.tv_sec++;
        its.it_value.tv_nsec -= 1000000000L;
    }
    got_usr = 0;
    CHECK_EQ(timer_settime(t, TIMER_ABSTIME, &its, NULL), 0);
    wait_for(&got_usr, 1, 5000);
    CHECK_EQ(got_usr, 1);
    CHECK_EQ(timer_delete(t), 0);
    printf("TIMER_ABSTIME on CLOCK_REALTIME fired once\n");

    /* SIGEV_THREAD_ID: to a chosen thread */
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = SIGUSR1;
    sev.sigev_value.sival_int = 55;
    sev.sigev_notify_thread_id = (pid_t)syscall(SYS_gettid);
    CHECK_EQ(timer_create(CLOCK_MONOTONIC, &sev, &t), 0);
    its.it_value.tv_sec = 0;
    its.it_value.tv_nsec = 20 * 1000000L;
    got_usr = 0;
    got_tid = 0;
    CHECK_EQ(timer_settime(t, 0, &its, NULL), 0);
    wait_for(&got_usr, 1, 5000);
    CHECK_EQ(got_usr, 1);
    CHECK_EQ(got_tid, syscall(SYS_gettid));
    CHECK_EQ(got_value, 55);
    CHECK_EQ(timer_delete(t), 0);
    printf("SIGEV_THREAD_ID: delivered to the named thread, si_value 55\n");

    /* SIGEV_NONE: nothing delivered, the time still runs down */
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_NONE;
    CHECK_EQ(timer_create(CLOCK_MONOTONIC, &sev, &t), 0);
    its.it_value.tv_sec = 10;
    its.it_value.tv_nsec = 0;
    CHECK_EQ(timer_settime(t, 0, &its, NULL), 0);
    usleep(20000);
    CHECK_EQ(timer_gettime(t, &cur), 0);
    CHECK(cur.it_value.tv_sec == 9 && cur.it_value.tv_nsec > 0);
    CHECK_EQ(timer_delete(t), 0);
    CHECK_ERR(syscall(SYS_timer_delete, 12345), EINVAL);
    printf("SIGEV_NONE: timer_gettime counts down; deleting an unknown id: EINVAL\n");
    signal(SIGUSR1, SIG_DFL);
}

static void test_timerfd(void)
{
    t_section("timerfd");
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    CHECK(fd >= 0);
    CHECK_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC);
    uint64_t n = 0;
    CHECK_ERR(read(fd, &n, sizeof n), EAGAIN); /* not armed */
    struct itimerspec its = {{0, 10 * 1000000L}, {0, 10 * 1000000L}}, cur;
    CHECK_EQ(timerfd_settime(fd, 0, &its, NULL), 0);
    CHECK_EQ(timerfd_gettime(fd, &cur), 0);
    CHECK_EQ(cur.it_interval.tv_nsec, 10 * 1000000L);
    usleep(100000);
    CHECK_EQ(read(fd, &n, sizeof n), 8);
    CHECK(n >= 5); /* 10 expected; the sleep may be late, never early */
    CHECK_ERR(read(fd, &n, 4), EINVAL); /* buffer too small */
    /* poll says readable at the next expiration */
    struct pollfd pfd = {fd, POLLIN, 0};
    CHECK_EQ(poll(&pfd, 1, 2000), 1);
    CHECK(pfd.revents & POLLIN);
    CHECK_EQ(read(fd, &n, sizeof n), 8);
    CHECK(n >= 1);
    struct itimerspec off = {{0, 0}, {0, 0}};
    CHECK_EQ(timerfd_settime(fd, 0, &off, NULL), 0);
    CHECK_ERR(read(fd, &n, sizeof n), EAGAIN);
    close(fd);
    printf("interval 10 ms, read after 100 ms: >= 5 expirations; poll POLLIN; disarmed: EAGAIN\n");

    /* blocking read, absolute time */
    fd = timerfd_create(CLOCK_MONOTONIC, 0);
    CHECK(fd >= 0);
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    its.it_interval.tv_nsec = 0;
    its.it_value = now;
    its.it_value.tv_nsec += 30 * 1000000L;
    if (its.it_value.tv_nsec >= 1000000000L) {
        its.it_value.tv_sec++;
        its.it_value.tv_nsec -= 1000000000L;
    }
    CHECK_EQ(timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL), 0);
    CHECK_EQ(read(fd, &n, sizeof n), 8);
    CHECK_EQ(n, 1);
    struct timespec after;
    clock_gettime(CLOCK_MONOTONIC, &after);
    CHECK(after.tv_sec > its.it_value.tv_sec ||
          (after.tv_sec == its.it_value.tv_sec && after.tv_nsec >= its.it_value.tv_nsec));
    close(fd);
    CHECK_ERR(timerfd_create(12345, 0), EINVAL);
    printf("TFD_TIMER_ABSTIME: blocking read returns 1 expiration, not early\n");
}

static void test_eventfd(void)
{
    t_section("eventfd");
    int fd = eventfd(5, EFD_NONBLOCK | EFD_CLOEXEC);
    CHECK(fd >= 0);
    uint64_t v = 3;
    CHECK_EQ(write(fd, &v, 8), 8);
    v = 4;
    CHECK_EQ(write(fd, &v, 8), 8);
    CHECK_EQ(read(fd, &v, 8), 8);
    CHECK_EQ(v, 12);
    CHECK_ERR(read(fd, &v, 8), EAGAIN);
    v = UINT64_MAX;
    CHECK_ERR(write(fd, &v, 8), EINVAL);
    v = UINT64_MAX - 1; /* the largest counter */
    CHECK_EQ(write(fd, &v, 8), 8);
    v = 1;
    CHECK_ERR(write(fd, &v, 8), EAGAIN); /* would overflow */
    CHECK_ERR(write(fd, &v, 4), EINVAL);
    CHECK_EQ(read(fd, &v, 8), 8);
    CHECK(v == UINT64_MAX - 1);
    close(fd);
    printf("counter: 5+3+4 read as 12, then EAGAIN; max 2^64-2; EINVAL for 2^64-1\n");

    fd = eventfd(3, EFD_SEMAPHORE | EFD_NONBLOCK);
    CHECK(fd >= 0);
    int ones = 0;
    for (int i = 0; i < 3; i++)
        ones += read(fd, &v, 8) == 8 && v == 1;
    CHECK_EQ(ones, 3);
    CHECK_ERR(read(fd, &v, 8), EAGAIN);
    close(fd);
    printf("EFD_SEMAPHORE: 3 reads of 1, then EAGAIN\n");

    /* a blocking read woken by another thread's write */
    fd = eventfd(0, 0);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, ev_writer, (void *)(intptr_t)fd), 0);
    CHECK_EQ(read(fd, &v, 8), 8);
    CHECK_EQ(v, 9);
    CHECK_EQ(pthread_join(t, NULL), 0);
    close(fd);
    printf("blocking read woken by a write from another thread: 9\n");
}

static void *ev_writer(void *arg)
{
    int fd = (int)(intptr_t)arg;
    usleep(30000);
    uint64_t v = 9;
    if (write(fd, &v, 8) != 8)
        return (void *)1;
    return NULL;
}

static void test_signalfd(void)
{
    t_section("signalfd");
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    CHECK(fd >= 0);
    struct signalfd_siginfo ssi;
    CHECK_ERR(read(fd, &ssi, sizeof ssi), EAGAIN);
    CHECK_EQ(raise(SIGUSR1), 0);
    union sigval sv;
    sv.sival_int = 66;
    CHECK_EQ(sigqueue(getpid(), SIGUSR2, sv), 0);
    struct pollfd pfd = {fd, POLLIN, 0};
    CHECK_EQ(poll(&pfd, 1, 1000), 1);
    memset(&ssi, 0, sizeof ssi);
    CHECK_EQ(read(fd, &ssi, sizeof ssi), sizeof ssi);
    CHECK_EQ(ssi.ssi_signo, SIGUSR1);
    CHECK_EQ(ssi.ssi_code, SI_TKILL);
    CHECK_EQ(ssi.ssi_pid, getpid());
    CHECK_EQ(ssi.ssi_uid, getuid());
    memset(&ssi, 0, sizeof ssi);
    CHECK_EQ(read(fd, &ssi, sizeof ssi), sizeof ssi);
    CHECK_EQ(ssi.ssi_signo, SIGUSR2);
    CHECK_EQ(ssi.ssi_code, SI_QUEUE);
    CHECK_EQ(ssi.ssi_int, 66);
    CHECK_ERR(read(fd, &ssi, sizeof ssi), EAGAIN);
    CHECK_ERR(read(fd, &ssi, 16), EINVAL);
    sigset_t pend;
    sigpending(&pend);
    CHECK(!sigismember(&pend, SIGUSR1) && !sigismember(&pend, SIGUSR2));
    close(fd);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    printf("signalfd: SIGUSR1 (SI_TKILL) then SIGUSR2 (SI_QUEUE, 66) read and consumed; EAGAIN when empty\n");
}

static void test_clock_nanosleep(void)
{
    t_section("clock_nanosleep");
    struct timespec target, now;
    clock_gettime(CLOCK_MONOTONIC, &target);
    target.tv_nsec += 50 * 1000000L;
    if (target.tv_nsec >= 1000000000L) {
        target.tv_sec++;
        target.tv_nsec -= 1000000000L;
    }
    CHECK_EQ(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &target, NULL), 0);
    clock_gettime(CLOCK_MONOTONIC, &now);
    CHECK(now.tv_sec > target.tv_sec || (now.tv_sec == target.tv_sec && now.tv_nsec >= target.tv_nsec));
    /* a time in the past returns at once */
    target.tv_sec -= 10;
    CHECK_EQ(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &target, NULL), 0);
    clock_gettime(CLOCK_REALTIME, &target);
    target.tv_nsec += 20 * 1000000L;
    if (target.tv_nsec >= 1000000000L) {
        target.tv_sec++;
        target.tv_nsec -= 1000000000L;
    }
    CHECK_EQ(clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &target, NULL), 0);
    clock_gettime(CLOCK_REALTIME, &now);
    CHECK(now.tv_sec > target.tv_sec || (now.tv_sec == target.tv_sec && now.tv_nsec >= target.tv_nsec));
    struct timespec bad = {0, 1000000000L};
    CHECK_EQ(clock_nanosleep(CLOCK_MONOTONIC, 0, &bad, NULL), EINVAL);
    printf("TIMER_ABSTIME (monotonic, realtime): not early; past deadline returns at once; bad nsec EINVAL\n");
}


static long long cpu_ns(clockid_t c)
{
    struct timespec t;
    clock_gettime(c, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static volatile int cpu_spin_stop;

static void *cpu_spinner(void *arg)
{
    (void)arg;
    volatile unsigned long n = 0;
    while (!__atomic_load_n(&cpu_spin_stop, __ATOMIC_ACQUIRE))
        n++;
    return NULL;
}

/* Spins on this thread until `*v` counts `n` (or 10 s of wall time pass). */
static void spin_for(volatile sig_atomic_t *v, int n)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    volatile unsigned long spin = 0;
    while (*v < n && ms_since(&t0) < 10000)
        spin++;
}

/* POSIX timers on CPU-time clocks count the CPU time of the process or the thread, not
 * wall time: asleep they stand still, computing they fire. */
static void test_cpu_timers(void)
{
    t_section("CPU-time POSIX timers");
    CHECK_EQ(set_info_handler(SIGUSR1), 0);

    /* the process clock: 40 ms of CPU */
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = SIGUSR1;
    ev.sigev_value.sival_int = 71;
    timer_t t;
    CHECK_EQ(timer_create(CLOCK_PROCESS_CPUTIME_ID, &ev, &t), 0);
    struct itimerspec its = {{0, 0}, {0, 40000000}}, cur;
    got_usr = 0;
    long long c0 = cpu_ns(CLOCK_PROCESS_CPUTIME_ID);
    CHECK_EQ(timer_settime(t, 0, &its, NULL), 0);
    usleep(200000); /* 200 ms asleep */
    CHECK_EQ(got_usr, 0);
    CHECK_EQ(timer_gettime(t, &cur), 0);
    CHECK(cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0 && cur.it_value.tv_nsec <= 40000000);
    spin_for(&got_usr, 1);
    CHECK_EQ(got_usr, 1);
    CHECK_EQ(got_code, SI_TIMER);
    CHECK_EQ(got_value, 71);
    CHECK(cpu_ns(CLOCK_PROCESS_CPUTIME_ID) - c0 >= 40000000);
    CHECK_EQ(timer_gettime(t, &cur), 0);
    CHECK(cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0); /* one-shot: disarmed */
    CHECK_EQ(timer_delete(t), 0);
    printf("CLOCK_PROCESS_CPUTIME_ID: still after 200 ms asleep, fires after 40 ms of CPU (SI_TIMER, value kept)\n");

    /* periodic, absolute: TIMER_ABSTIME against the process clock, then every 10 ms */
    CHECK_EQ(timer_create(CLOCK_PROCESS_CPUTIME_ID, &ev, &t), 0);
    got_usr = 0;
    long long start = cpu_ns(CLOCK_PROCESS_CPUTIME_ID) + 20000000;
    struct itimerspec abs_its = {{0, 10000000}, {start / 1000000000, start % 1000000000}};
    CHECK_EQ(timer_settime(t, TIMER_ABSTIME, &abs_its, NULL), 0);
    spin_for(&got_usr, 3);
    CHECK(got_usr >= 3);
    CHECK(cpu_ns(CLOCK_PROCESS_CPUTIME_ID) >= start + 20000000);
    CHECK_EQ(timer_gettime(t, &cur), 0);
    CHECK(cur.it_interval.tv_nsec == 10000000);
    CHECK_EQ(timer_delete(t), 0);
    printf("CLOCK_PROCESS_CPUTIME_ID, TIMER_ABSTIME then every 10 ms: 3 expirations while computing\n");

    /* the calling thread's clock: another thread's computing does not advance it */
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_THREAD_ID;
    ev.sigev_signo = SIGUSR1;
    ev.sigev_notify_thread_id = (pid_t)syscall(SYS_gettid);
    CHECK_EQ(timer_create(CLOCK_THREAD_CPUTIME_ID, &ev, &t), 0);
    its.it_value.tv_nsec = 30000000;
    got_usr = 0;
    got_tid = 0;
    CHECK_EQ(timer_settime(t, 0, &its, NULL), 0);
    cpu_spin_stop = 0;
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, cpu_spinner, NULL), 0);
    usleep(200000); /* the other thread computes for 200 ms, this one sleeps */
    CHECK_EQ(got_usr, 0);
    __atomic_store_n(&cpu_spin_stop, 1, __ATOMIC_RELEASE);
    CHECK_EQ(pthread_join(th, NULL), 0);
    spin_for(&got_usr, 1);
    CHECK_EQ(got_usr, 1);
    CHECK_EQ(got_tid, (pid_t)syscall(SYS_gettid));
    CHECK_EQ(timer_delete(t), 0);
    printf("CLOCK_THREAD_CPUTIME_ID: another thread's 200 ms of CPU leave it still; fires once this thread computes 30 ms\n");

    /* another thread's clock (pthread_getcpuclockid): it fires when that thread computes */
    cpu_spin_stop = 0;
    CHECK_EQ(pthread_create(&th, NULL, cpu_spinner, NULL), 0);
    clockid_t tc;
    CHECK_EQ(pthread_getcpuclockid(th, &tc), 0);
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = SIGUSR1;
    ev.sigev_value.sival_int = 72;
    CHECK_EQ(timer_create(tc, &ev, &t), 0);
    got_usr = 0;
    its.it_value.tv_nsec = 30000000;
    CHECK_EQ(timer_settime(t, 0, &its, NULL), 0);
    wait_for(&got_usr, 1, 10000); /* this thread sleeps; the spinner's CPU time counts */
    CHECK_EQ(got_usr, 1);
    CHECK_EQ(got_value, 72);
    __atomic_store_n(&cpu_spin_stop, 1, __ATOMIC_RELEASE);
    CHECK_EQ(pthread_join(th, NULL), 0);
    CHECK_EQ(timer_delete(t), 0);
    signal(SIGUSR1, SIG_DFL);
    printf("pthread_getcpuclockid clock: fires after 30 ms of that thread's CPU while the caller sleeps\n");

    /* clock_nanosleep on the process clock: returns once the process has used that much
     * CPU (here a spinning thread's), relative and absolute; a thread clock: EINVAL */
    cpu_spin_stop = 0;
    CHECK_EQ(pthread_create(&th, NULL, cpu_spinner, NULL), 0);
    long long p0 = cpu_ns(CLOCK_PROCESS_CPUTIME_ID);
    struct timespec rel = {0, 50000000};
    CHECK_EQ(clock_nanosleep(CLOCK_PROCESS_CPUTIME_ID, 0, &rel, NULL), 0);
    CHECK(cpu_ns(CLOCK_PROCESS_CPUTIME_ID) - p0 >= 50000000);
    long long until = cpu_ns(CLOCK_PROCESS_CPUTIME_ID) + 50000000;
    struct timespec abs_ts = {until / 1000000000, until % 1000000000};
    CHECK_EQ(clock_nanosleep(CLOCK_PROCESS_CPUTIME_ID, TIMER_ABSTIME, &abs_ts, NULL), 0);
    CHECK(cpu_ns(CLOCK_PROCESS_CPUTIME_ID) >= until);
    __atomic_store_n(&cpu_spin_stop, 1, __ATOMIC_RELEASE);
    CHECK_EQ(pthread_join(th, NULL), 0);
    CHECK_EQ(clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &rel, NULL), EINVAL);
    printf("clock_nanosleep(CLOCK_PROCESS_CPUTIME_ID): wakes after 50 ms of process CPU (relative, absolute); thread clock EINVAL\n");
}

int main(void)
{
    test_timer_after_child();
    test_alarm();
    test_itimer();
    test_posix_timers();
    test_timerfd();
    test_eventfd();
    test_signalfd();
    test_clock_nanosleep();
    test_cpu_timers();
    return t_finish("timers");
}
