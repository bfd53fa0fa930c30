/* Signals: SA_SIGINFO (si_signo, si_code, si_pid, si_uid, si_value) from
 * kill, raise, pthread_kill, tgkill and sigqueue; real-time queueing and
 * delivery order; SA_RESETHAND; SA_NODEFER and sa_mask; sigprocmask,
 * sigpending, discarding by SIG_IGN; sigsuspend; sigwaitinfo/sigtimedwait;
 * SIGSEGV (PROT_NONE, read-only, unmapped) left with siglongjmp, resumed after
 * mprotect, resumed with an edited context; SIGFPE; stack overflow caught on
 * an alternate stack (main thread and a small-stack thread); blocking read
 * interrupted (SA_RESTART restarts it, otherwise EINTR); nanosleep and
 * clock_nanosleep interrupted; pause; SIGCHLD (and SIG_IGN auto-reaping);
 * default actions; thread- and process-directed signals; argument errors.
 * No alarm/setitimer/timer_create here: see timers.c. */
#include "t.h"
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>

static void *thread_mask_probe(void *arg);
static pid_t gettid_(void) { return (pid_t)syscall(SYS_gettid); }

/* ------------------------------------------------------------ handlers */

static volatile sig_atomic_t h_count, h_signo, h_code, h_depth, h_maxdepth;
static volatile pid_t h_pid, h_tid;
static volatile uid_t h_uid;
static volatile int h_value;
static volatile int h_self_blocked, h_other_blocked;

static void info_handler(int sig, siginfo_t *si, void *ctx)
{
    (void)ctx;
    h_signo = si->si_signo;
    h_code = si->si_code;
    h_pid = si->si_pid;
    h_uid = si->si_uid;
    h_value = si->si_value.sival_int;
    h_tid = gettid_();
    (void)sig;
    /* last, so that a thread polling h_count sees the fields above filled in */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    h_count++;
}

static void count_handler(int sig)
{
    (void)sig;
    h_count++;
}

static int set_handler(int sig, void (*h)(int), int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = h;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    return sigaction(sig, &sa, NULL);
}

static int set_info_handler(int sig, void (*h)(int, siginfo_t *, void *), int flags, const sigset_t *mask)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = h;
    sa.sa_flags = flags | SA_SIGINFO;
    if (mask)
        sa.sa_mask = *mask;
    else
        sigemptyset(&sa.sa_mask);
    return sigaction(sig, &sa, NULL);
}

static void reset(int sig)
{
    signal(sig, SIG_DFL);
}

static void block(int sig, int how)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, sig);
    sigprocmask(how, &s, NULL);
}

static int is_blocked(int sig)
{
    sigset_t s;
    sigprocmask(SIG_BLOCK, NULL, &s);
    return sigismember(&s, sig);
}

static int is_pending(int sig)
{
    sigset_t s;
    sigpending(&s);
    return sigismember(&s, sig);
}

static void clear_h(void)
{
    h_count = h_signo = h_code = h_depth = h_maxdepth = 0;
    h_pid = h_tid = 0;
    h_uid = (uid_t)-1;
    h_value = 0;
}

static const char *code_name(int c)
{
    switch (c) {
    case SI_USER: return "SI_USER";
    case SI_TKILL: return "SI_TKILL";
    case SI_QUEUE: return "SI_QUEUE";
    case SI_KERNEL: return "SI_KERNEL";
    default: {
        static char b[16];
        snprintf(b, sizeof b, "%d", c);
        return b;
    }
    }
}

/* A thread that sends sig to target after delay_ms; with repeat_ms, again
 * every repeat_ms until *stop is set. */
struct sender {
    pthread_t target;
    int sig, delay_ms, repeat_ms;
    volatile int *stop;
    int write_fd, write_delay_ms; /* then writes "data" to write_fd (if >= 0) */
    pthread_t th;
};

static void *sender_fn(void *arg)
{
    struct sender *s = arg;
    usleep(s->delay_ms * 1000);
    for (;;) {
        pthread_kill(s->target, s->sig);
        if (!s->repeat_ms || *s->stop)
            break;
        usleep(s->repeat_ms * 1000);
        if (*s->stop)
            break;
    }
    if (s->write_fd >= 0) {
        usleep(s->write_delay_ms * 1000);
        if (write(s->write_fd, "data", 4) != 4)
            return (void *)1;
    }
    return NULL;
}

static void start_sender(struct sender *s)
{
    CHECK_EQ(pthread_create(&s->th, NULL, sender_fn, s), 0);
}

/* ------------------------------------------------------------ tests */

static void test_siginfo(void)
{
    t_section("siginfo");
    CHECK_EQ(set_info_handler(SIGUSR1, info_handler, 0, NULL), 0);
    clear_h();
    CHECK_EQ(kill(getpid(), SIGUSR1), 0);
    CHECK_EQ(h_count, 1); /* delivered before kill returned */
    CHECK_EQ(h_signo, SIGUSR1);
    CHECK_EQ(h_code, SI_USER);
    CHECK_EQ(h_pid, getpid());
    CHECK_EQ(h_uid, getuid());
    printf("kill: si_signo=%d si_code=%s si_pid=self si_uid=self\n", (int)h_signo, code_name(h_code));

    clear_h();
    CHECK_EQ(raise(SIGUSR1), 0);
    CHECK_EQ(h_count, 1);
    CHECK_EQ(h_code, SI_TKILL);
    CHECK_EQ(h_pid, getpid());
    printf("raise: si_code=%s\n", code_name(h_code));

    clear_h();
    CHECK_EQ(pthread_kill(pthread_self(), SIGUSR1), 0);
    CHECK_EQ(h_count, 1);
    CHECK_EQ(h_code, SI_TKILL);
    printf("pthread_kill: si_code=%s\n", code_name(h_code));

    clear_h();
    CHECK_EQ(syscall(SYS_tgkill, getpid(), gettid_(), SIGUSR1), 0);
    CHECK_EQ(h_count, 1);
    CHECK_EQ(h_code, SI_TKILL);
    CHECK_EQ(h_tid, gettid_());
    CHECK_EQ(syscall(SYS_tkill, gettid_(), 0), 0);
    printf("tgkill: si_code=%s\n", code_name(h_code));

    clear_h();
    union sigval v;
    v.sival_int = 1234;
    CHECK_EQ(sigqueue(getpid(), SIGUSR1, v), 0);
    CHECK_EQ(h_count, 1);
    CHECK_EQ(h_code, SI_QUEUE);
    CHECK_EQ(h_value, 1234);
    CHECK_EQ(h_pid, getpid());
    printf("sigqueue: si_code=%s si_value=%d\n", code_name(h_code), (int)h_value);

    /* rt_sigqueueinfo and rt_tgsigqueueinfo with our own siginfo */
    clear_h();
    siginfo_t si;
    memset(&si, 0, sizeof si);
    si.si_signo = SIGUSR1;
    si.si_code = SI_QUEUE;
    si.si_pid = getpid();
    si.si_uid = getuid();
    si.si_value.sival_int = 5678;
    CHECK_EQ(syscall(SYS_rt_sigqueueinfo, getpid(), SIGUSR1, &si), 0);
    CHECK_EQ(h_count, 1);
    CHECK_EQ(h_value, 5678);
    CHECK_EQ(h_code, SI_QUEUE);
    si.si_value.sival_int = 91;
    CHECK_EQ(syscall(SYS_rt_tgsigqueueinfo, getpid(), gettid_(), SIGUSR1, &si), 0);
    CHECK_EQ(h_count, 2);
    CHECK_EQ(h_value, 91);
    printf("rt_sigqueueinfo/rt_tgsigqueueinfo: si_value delivered\n");
    reset(SIGUSR1);
}

static volatile int order[16];
static volatile sig_atomic_t norder;

static void order_handler(int sig, siginfo_t *si, void *ctx)
{
    (void)ctx;
    if (norder < 16)
        order[norder++] = sig * 100 + si->si_value.sival_int * (si->si_code == SI_QUEUE);
}

static void test_queueing(void)
{
    t_section("queueing");
    int r1 = SIGRTMIN + 1, r2 = SIGRTMIN + 2;
    sigset_t all;
    sigemptyset(&all);
    sigaddset(&all, SIGUSR2);
    sigaddset(&all, r1);
    sigaddset(&all, r2);
    /* each handler blocks all three: one frame at a time, in dequeue order */
    CHECK_EQ(set_info_handler(SIGUSR2, order_handler, 0, &all), 0);
    CHECK_EQ(set_info_handler(r1, order_handler, 0, &all), 0);
    CHECK_EQ(set_info_handler(r2, order_handler, 0, &all), 0);
    sigset_t old;
    CHECK_EQ(sigprocmask(SIG_BLOCK, &all, &old), 0);
    union sigval v;
    for (int i = 1; i <= 3; i++) {
        v.sival_int = i;
        CHECK_EQ(sigqueue(getpid(), r2, v), 0);
    }
    for (int i = 1; i <= 3; i++) {
        v.sival_int = 10 + i;
        CHECK_EQ(sigqueue(getpid(), r1, v), 0);
    }
    for (int i = 0; i < 3; i++)
        CHECK_EQ(kill(getpid(), SIGUSR2), 0);
    CHECK_EQ(norder, 0);
    CHECK(is_pending(SIGUSR2) && is_pending(r1) && is_pending(r2));
    norder = 0;
    CHECK_EQ(sigprocmask(SIG_SETMASK, &old, NULL), 0);
    /* SIGUSR2 once (not queued), then the lower real-time signal first,
     * each real-time signal in the order it was queued */
    int want[7] = {SIGUSR2 * 100, r1 * 100 + 11, r1 * 100 + 12, r1 * 100 + 13, r2 * 100 + 1, r2 * 100 + 2, r2 * 100 + 3};
    CHECK_EQ(norder, 7);
    int same = norder == 7;
    for (int i = 0; i < 7 && same; i++)
        same = order[i] == want[i];
    CHECK(same);
    if (!same)
        for (int i = 0; i < norder; i++)
            printf("  delivered[%d] = %d, want %d\n", i, order[i], i < 7 ? want[i] : -1);
    printf("3 x SIGUSR2 blocked: delivered once; real-time signals queued: lowest first, FIFO, values kept\n");
    reset(SIGUSR2);
    reset(r1);
    reset(r2);
}

static void nest_handler(int sig)
{
    h_count++;
    h_depth++;
    if (h_depth > h_maxdepth)
        h_maxdepth = h_depth;
    h_self_blocked = is_blocked(sig);
    h_other_blocked = is_blocked(SIGUSR2);
    if (h_count == 1)
        raise(sig); /* deferred unless SA_NODEFER */
    h_depth--;
}

static void test_flags(void)
{
    t_section("flags");
    /* default: the signal is blocked in its handler; sa_mask adds more */
    struct sigaction sa, cur;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = nest_handler;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGUSR2);
    CHECK_EQ(sigaction(SIGUSR1, &sa, NULL), 0);
    clear_h();
    raise(SIGUSR1);
    CHECK_EQ(h_count, 2);
    CHECK_EQ(h_maxdepth, 1);
    CHECK_EQ(h_self_blocked, 1);
    CHECK_EQ(h_other_blocked, 1);
    CHECK(!is_blocked(SIGUSR1) && !is_blocked(SIGUSR2));
    printf("default: signal and sa_mask blocked in the handler, re-raise deferred (depth 1, 2 runs), mask restored\n");

    sa.sa_flags = SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    CHECK_EQ(sigaction(SIGUSR1, &sa, NULL), 0);
    CHECK_EQ(sigaction(SIGUSR1, NULL, &cur), 0);
    CHECK(cur.sa_flags & SA_NODEFER);
    clear_h();
    raise(SIGUSR1);
    CHECK_EQ(h_count, 2);
    CHECK_EQ(h_maxdepth, 2);
    CHECK_EQ(h_other_blocked, 0);
    printf("SA_NODEFER: re-raise nests (depth 2)\n");

    /* SA_RESETHAND: the handler runs once, then the disposition is default */
    CHECK_EQ(set_handler(SIGUSR1, count_handler, SA_RESETHAND), 0);
    clear_h();
    raise(SIGUSR1);
    CHECK_EQ(h_count, 1);
    CHECK_EQ(sigaction(SIGUSR1, NULL, &cur), 0);
    CHECK(cur.sa_handler == SIG_DFL);
    printf("SA_RESETHAND: SIG_DFL after the first delivery\n");

    /* the old action is returned */
    CHECK_EQ(set_handler(SIGUSR1, count_handler, SA_RESTART), 0);
    struct sigaction old;
    CHECK_EQ(set_handler(SIGUSR1, SIG_IGN, 0), 0);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    CHECK_EQ(sigaction(SIGUSR1, &sa, &old), 0);
    CHECK(old.sa_handler == SIG_IGN);
    CHECK_EQ(set_handler(SIGUSR1, count_handler, SA_RESTART | SA_ONSTACK), 0);
    CHECK_EQ(sigaction(SIGUSR1, NULL, &old), 0);
    CHECK(old.sa_handler == count_handler && (old.sa_flags & SA_RESTART) && (old.sa_flags & SA_ONSTACK));
    reset(SIGUSR1);

    /* errors */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = count_handler;
    CHECK_ERR(sigaction(SIGKILL, &sa, NULL), EINVAL);
    CHECK_ERR(sigaction(SIGSTOP, &sa, NULL), EINVAL);
    CHECK_ERR(syscall(SYS_rt_sigaction, 0, NULL, NULL, 8), EINVAL);
    CHECK_ERR(syscall(SYS_rt_sigaction, 65, NULL, NULL, 8), EINVAL);
    CHECK_ERR(syscall(SYS_rt_sigaction, SIGUSR1, NULL, NULL, 4), EINVAL);
    CHECK_ERR(syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, NULL, 4), EINVAL);
    CHECK_ERR(kill(getpid(), 65), EINVAL);
    CHECK_EQ(kill(getpid(), 0), 0);
    CHECK_EQ(sigaction(SIGKILL, NULL, &old), 0); /* querying is allowed */
    /* SIGKILL and SIGSTOP cannot be blocked */
    sigset_t full, got, saved;
    sigfillset(&full);
    CHECK_EQ(sigprocmask(SIG_BLOCK, &full, &saved), 0);
    CHECK_EQ(sigprocmask(SIG_BLOCK, NULL, &got), 0);
    CHECK(!sigismember(&got, SIGKILL) && !sigismember(&got, SIGSTOP) && sigismember(&got, SIGTERM));
    CHECK_EQ(sigprocmask(SIG_SETMASK, &saved, NULL), 0);
    CHECK_ERR(sigprocmask(99, &full, NULL), EINVAL);
    printf("errors: SIGKILL/SIGSTOP handlers EINVAL, bad numbers and sizes EINVAL; SIGKILL/SIGSTOP never blocked\n");
}

static void test_mask(void)
{
    t_section("mask and pending");
    CHECK_EQ(set_handler(SIGUSR1, count_handler, 0), 0);
    clear_h();
    block(SIGUSR1, SIG_BLOCK);
    CHECK_EQ(kill(getpid(), SIGUSR1), 0);
    CHECK_EQ(kill(getpid(), SIGUSR1), 0);
    CHECK_EQ(h_count, 0);
    CHECK_EQ(is_pending(SIGUSR1), 1);
    block(SIGUSR1, SIG_UNBLOCK);
    CHECK_EQ(h_count, 1); /* delivered before sigprocmask returned, once */
    CHECK_EQ(is_pending(SIGUSR1), 0);
    printf("blocked: pending, not delivered; unblocked: delivered once at once\n");

    /* ignoring a pending signal discards it */
    block(SIGUSR1, SIG_BLOCK);
    raise(SIGUSR1);
    CHECK_EQ(is_pending(SIGUSR1), 1);
    CHECK_EQ(set_handler(SIGUSR1, SIG_IGN, 0), 0);
    CHECK_EQ(is_pending(SIGUSR1), 0);
    /* blocked and ignored: still made pending (the disposition may change
     * before it is unblocked) */
    raise(SIGUSR1);
    CHECK_EQ(is_pending(SIGUSR1), 1);
    CHECK_EQ(set_handler(SIGUSR1, count_handler, 0), 0);
    clear_h();
    block(SIGUSR1, SIG_UNBLOCK);
    CHECK_EQ(h_count, 1);
    /* unblocked and ignored: dropped at once */
    CHECK_EQ(set_handler(SIGUSR1, SIG_IGN, 0), 0);
    raise(SIGUSR1);
    CHECK_EQ(is_pending(SIGUSR1), 0);
    CHECK_EQ(set_handler(SIGUSR1, count_handler, 0), 0);
    clear_h();
    block(SIGUSR1, SIG_BLOCK);
    block(SIGUSR1, SIG_UNBLOCK);
    CHECK_EQ(h_count, 0);
    printf("SIG_IGN discards a pending signal; blocked+ignored is queued, unblocked+ignored dropped\n");

    /* sigsuspend with the signal already pending */
    block(SIGUSR1, SIG_BLOCK);
    raise(SIGUSR1);
    sigset_t empty;
    sigemptyset(&empty);
    clear_h();
    CHECK_ERR(sigsuspend(&empty), EINTR);
    CHECK_EQ(h_count, 1);
    CHECK_EQ(is_blocked(SIGUSR1), 1); /* the old mask is back */
    /* sigsuspend woken by another thread's signal */
    volatile int stop = 0;
    struct sender s = {pthread_self(), SIGUSR1, 50, 0, &stop, -1, 0, 0};
    clear_h();
    start_sender(&s);
    CHECK_ERR(sigsuspend(&empty), EINTR);
    CHECK_EQ(h_count, 1);
    CHECK_EQ(pthread_join(s.th, NULL), 0);
    block(SIGUSR1, SIG_UNBLOCK);
    printf("sigsuspend: EINTR after the handler (pending before, and sent by a thread); mask restored\n");

    /* a new thread inherits the mask */
    block(SIGUSR2, SIG_BLOCK);
    pthread_t t;
    void *r;
    CHECK_EQ(pthread_create(&t, NULL, thread_mask_probe, NULL), 0);
    CHECK_EQ(pthread_join(t, &r), 0);
    CHECK(r == (void *)1);
    block(SIGUSR2, SIG_UNBLOCK);
    reset(SIGUSR1);
}

static void *thread_mask_probe(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)is_blocked(SIGUSR2);
}

static void test_wait(void)
{
    t_section("sigwaitinfo");
    CHECK_EQ(set_handler(SIGUSR1, count_handler, 0), 0);
    clear_h();
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    sigprocmask(SIG_BLOCK, &set, NULL);
    raise(SIGUSR1);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    CHECK_EQ(sigwaitinfo(&set, &si), SIGUSR1);
    CHECK_EQ(si.si_signo, SIGUSR1);
    /* glibc's wrapper reports SI_TKILL as SI_USER: ask the kernel itself */
    CHECK(si.si_code == SI_TKILL || si.si_code == SI_USER);
    raise(SIGUSR1);
    memset(&si, 0, sizeof si);
    CHECK_EQ(syscall(SYS_rt_sigtimedwait, &set, &si, NULL, 8), SIGUSR1);
    CHECK_EQ(si.si_code, SI_TKILL);
    CHECK_EQ(si.si_pid, getpid());
    CHECK_EQ(h_count, 0); /* taken, not handled */
    CHECK_EQ(is_pending(SIGUSR1), 0);
    union sigval v;
    v.sival_int = 77;
    CHECK_EQ(sigqueue(getpid(), SIGUSR2, v), 0);
    struct timespec ts = {1, 0};
    memset(&si, 0, sizeof si);
    CHECK_EQ(sigtimedwait(&set, &si, &ts), SIGUSR2);
    CHECK_EQ(si.si_code, SI_QUEUE);
    CHECK_EQ(si.si_value.sival_int, 77);
    ts.tv_sec = 0;
    ts.tv_nsec = 0;
    CHECK_ERR(sigtimedwait(&set, &si, &ts), EAGAIN);
    ts.tv_nsec = 30 * 1000000L;
    CHECK_ERR(sigtimedwait(&set, &si, &ts), EAGAIN);
    /* a signal that arrives while waiting */
    volatile int stop = 0;
    struct sender s = {pthread_self(), SIGUSR2, 50, 0, &stop, -1, 0, 0};
    start_sender(&s);
    ts.tv_sec = 10;
    ts.tv_nsec = 0;
    memset(&si, 0, sizeof si);
    CHECK_EQ(syscall(SYS_rt_sigtimedwait, &set, &si, &ts, 8), SIGUSR2);
    CHECK_EQ(si.si_code, SI_TKILL);
    CHECK_EQ(pthread_join(s.th, NULL), 0);
    raise(SIGUSR1);
    int sig = 0;
    CHECK_EQ(sigwait(&set, &sig), 0);
    CHECK_EQ(sig, SIGUSR1);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    CHECK_EQ(h_count, 0);
    printf("sigwaitinfo/sigtimedwait/sigwait take blocked signals (SI_TKILL, SI_QUEUE value 77); EAGAIN on timeout\n");
    reset(SIGUSR1);
}

/* ------------------------------------------------------------ faults */

static sigjmp_buf jb;
static volatile void *fault_addr;
static volatile int fault_code, fault_sig, fault_onstack, fault_altstack_eperm;
static char *altstack;
static size_t altstack_size;

static void fault_handler(int sig, siginfo_t *si, void *ctx)
{
    (void)ctx;
    fault_sig = sig;
    fault_code = si->si_code;
    fault_addr = si->si_addr;
    char here;
    fault_onstack = altstack && &here >= altstack && &here < altstack + altstack_size;
    stack_t cur;
    if (sigaltstack(NULL, &cur) == 0 && (cur.ss_flags & SS_ONSTACK)) {
        /* changing the alternate stack while on it: EPERM */
        stack_t ns = cur;
        ns.ss_flags = 0;
        fault_altstack_eperm = sigaltstack(&ns, NULL) == -1 && errno == EPERM;
    }
    siglongjmp(jb, 1);
}

static char *fix_page;

static void fix_handler(int sig, siginfo_t *si, void *ctx)
{
    (void)ctx;
    fault_sig = sig;
    fault_addr = si->si_addr;
    h_count++;
    /* make the page writable and return: the write is retried */
    mprotect(fix_page, 4096, PROT_READ | PROT_WRITE);
}

static void skip_handler(int sig, siginfo_t *si, void *ctx)
{
    ucontext_t *uc = ctx;
    fault_sig = sig;
    fault_addr = si->si_addr;
    h_count++;
    /* skip the 3-byte `mov (%rdx),%rax` and give it a result */
    uc->uc_mcontext.gregs[REG_RIP] += 3;
    uc->uc_mcontext.gregs[REG_RAX] = 4242;
}

static volatile int recurse_limit = 1 << 30; /* never reached: the stack ends first */

static int recurse(int depth)
{
    volatile char buf[1024];
    if (depth > recurse_limit)
        return 0;
    buf[0] = (char)depth;
    buf[sizeof buf - 1] = (char)depth;
    return recurse(depth + 1) + buf[0] + buf[sizeof buf - 1];
}

static void test_segv(void)
{
    t_section("SIGSEGV");
    CHECK_EQ(set_info_handler(SIGSEGV, fault_handler, 0, NULL), 0);
    char *page = mmap(NULL, 8192, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(page != MAP_FAILED);
    for (int round = 0; round < 2; round++) {
        fault_sig = 0;
        if (sigsetjmp(jb, 1) == 0) {
            *(volatile char *)(page + 100 + round) = 1;
            CHECK(!"no fault");
        }
        CHECK_EQ(fault_sig, SIGSEGV);
        CHECK_EQ(fault_code, SEGV_ACCERR);
        CHECK(fault_addr == page + 100 + round);
        CHECK_EQ(is_blocked(SIGSEGV), 0); /* siglongjmp restored the mask */
    }
    printf("PROT_NONE write twice: SIGSEGV SEGV_ACCERR at the address, siglongjmp out\n");

    /* read-only page: ACCERR; unmapped page: MAPERR */
    CHECK_EQ(mprotect(page, 4096, PROT_READ), 0);
    fault_sig = 0;
    if (sigsetjmp(jb, 1) == 0)
        *(volatile char *)page = 1;
    CHECK_EQ(fault_sig, SIGSEGV);
    CHECK_EQ(fault_code, SEGV_ACCERR);
    CHECK_EQ(munmap(page + 4096, 4096), 0);
    fault_sig = 0;
    if (sigsetjmp(jb, 1) == 0)
        (void)*(volatile char *)(page + 4096 + 8);
    CHECK_EQ(fault_sig, SIGSEGV);
    CHECK_EQ(fault_code, SEGV_MAPERR);
    CHECK(fault_addr == page + 4096 + 8);
    munmap(page, 4096);
    printf("read-only page: SEGV_ACCERR; unmapped page: SEGV_MAPERR\n");

    /* the handler fixes the protection and returns: the write completes */
    fix_page = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(fix_page != MAP_FAILED);
    CHECK_EQ(set_info_handler(SIGSEGV, fix_handler, 0, NULL), 0);
    clear_h();
    *(volatile char *)(fix_page + 7) = 42;
    CHECK_EQ(h_count, 1);
    CHECK_EQ(fix_page[7], 42);
    munmap(fix_page, 4096);
    printf("handler mprotects and returns: the faulting write is retried and succeeds\n");

    /* the handler edits the context: skips the instruction, sets rax */
    CHECK_EQ(set_info_handler(SIGSEGV, skip_handler, 0, NULL), 0);
    clear_h();
    long out = 0;
    void *bad = t_bad_ptr(16);
    __asm__ volatile("movq (%1), %0" : "=a"(out) : "d"(bad) : "memory");
    CHECK_EQ(h_count, 1);
    CHECK_EQ(out, 4242);
    CHECK(fault_addr == bad);
    printf("handler edits RIP and RAX in the ucontext: execution resumes after the load with rax=4242\n");
    reset(SIGSEGV);
}

static void test_fpe(void)
{
    t_section("SIGFPE");
    CHECK_EQ(set_info_handler(SIGFPE, fault_handler, 0, NULL), 0);
    volatile int a = 7, zero = 0, m1 = -1, minint = -2147483647 - 1;
    volatile int res = 0;
    for (int round = 0; round < 2; round++) {
        fault_sig = 0;
        if (sigsetjmp(jb, 1) == 0)
            res = a / zero;
        CHECK_EQ(fault_sig, SIGFPE);
        CHECK_EQ(fault_code, FPE_INTDIV);
    }
    fault_sig = 0;
    if (sigsetjmp(jb, 1) == 0)
        res = minint / m1;
    CHECK_EQ(fault_sig, SIGFPE);
    CHECK_EQ(fault_code, FPE_INTDIV);
    (void)res;
    printf("integer division by zero (twice) and INT_MIN/-1: SIGFPE FPE_INTDIV\n");
    reset(SIGFPE);
}

static void overflow_on_altstack(int *ok_out)
{
    altstack_size = 64 * 1024;
    altstack = mmap(NULL, altstack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    stack_t ss = {.ss_sp = altstack, .ss_size = altstack_size, .ss_flags = 0};
    int ok = sigaltstack(&ss, NULL) == 0;
    stack_t cur;
    ok &= sigaltstack(NULL, &cur) == 0 && cur.ss_sp == altstack && cur.ss_size == altstack_size && cur.ss_flags == 0;
    fault_sig = 0;
    fault_onstack = 0;
    fault_altstack_eperm = 0;
    if (sigsetjmp(jb, 1) == 0)
        recurse(0);
    ok &= fault_sig == SIGSEGV;
    ok &= fault_onstack == 1;
    ok &= fault_altstack_eperm == 1;
    ok &= sigaltstack(NULL, &cur) == 0 && !(cur.ss_flags & SS_ONSTACK);
    ss.ss_flags = SS_DISABLE;
    ok &= sigaltstack(&ss, NULL) == 0;
    ok &= sigaltstack(NULL, &cur) == 0 && (cur.ss_flags & SS_DISABLE);
    munmap(altstack, altstack_size);
    altstack = NULL;
    *ok_out = ok;
}

static void *overflow_thread(void *arg)
{
    int ok = 0;
    (void)arg;
    overflow_on_altstack(&ok);
    return (void *)(intptr_t)ok;
}

static void test_overflow(void)
{
    t_section("stack overflow");
    CHECK_EQ(set_info_handler(SIGSEGV, fault_handler, SA_ONSTACK, NULL), 0);
    stack_t small = {.ss_sp = malloc(1024), .ss_size = 1024, .ss_flags = 0};
    CHECK_ERR(sigaltstack(&small, NULL), ENOMEM);
    free(small.ss_sp);
    int ok = 0;
    overflow_on_altstack(&ok);
    CHECK(ok);
    printf("main thread: recursion until SIGSEGV, handled on the alternate stack (EPERM to change it there), siglongjmp\n");
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setstacksize(&at, 256 * 1024);
    pthread_t t;
    void *r = NULL;
    CHECK_EQ(pthread_create(&t, &at, overflow_thread, NULL), 0);
    CHECK_EQ(pthread_join(t, &r), 0);
    CHECK(r == (void *)1);
    pthread_attr_destroy(&at);
    printf("256 KiB thread: the same\n");
    reset(SIGSEGV);
}

/* ------------------------------------------------------------ interruptions */

static void test_interrupt(void)
{
    t_section("interrupted calls");
    int p[2];
    char buf[16];
    volatile int stop = 0;

    /* SA_RESTART: the read goes on and returns what is written later */
    CHECK_EQ(set_handler(SIGUSR1, count_handler, SA_RESTART), 0);
    CHECK_EQ(pipe(p), 0);
    clear_h();
    struct sender s = {pthread_self(), SIGUSR1, 100, 0, &stop, p[1], 100, 0};
    start_sender(&s);
    ssize_t n = read(p[0], buf, sizeof buf);
    CHECK_EQ(n, 4);
    CHECK(n == 4 && memcmp(buf, "data", 4) == 0);
    CHECK_EQ(h_count, 1);
    CHECK_EQ(pthread_join(s.th, NULL), 0);
    printf("read on an empty pipe, signal with SA_RESTART: handler ran once, read returned the later data\n");

    /* no SA_RESTART: EINTR */
    CHECK_EQ(set_handler(SIGUSR1, count_handler, 0), 0);
    clear_h();
    stop = 0;
    struct sender s2 = {pthread_self(), SIGUSR1, 100, 50, &stop, -1, 0, 0};
    start_sender(&s2);
    CHECK_ERR(read(p[0], buf, sizeof buf), EINTR);
    stop = 1;
    CHECK_EQ(pthread_join(s2.th, NULL), 0);
    CHECK(h_count >= 1);
    printf("the same without SA_RESTART: EINTR\n");

    /* nanosleep is never restarted, SA_RESTART or not; rem is what is left */
    CHECK_EQ(set_handler(SIGUSR1, count_handler, SA_RESTART), 0);
    stop = 0;
    struct sender s3 = {pthread_self(), SIGUSR1, 100, 50, &stop, -1, 0, 0};
    start_sender(&s3);
    struct timespec req = {5, 0}, rem = {0, 0};
    CHECK_ERR(nanosleep(&req, &rem), EINTR);
    stop = 1;
    CHECK_EQ(pthread_join(s3.th, NULL), 0);
    CHECK(rem.tv_sec < 5 && (rem.tv_sec > 0 || rem.tv_nsec > 0));
    CHECK(rem.tv_sec >= 1); /* interrupted after ~0.1 s of 5 s */
    printf("nanosleep(5 s) interrupted: EINTR, 0 < remaining < 5 s\n");

    stop = 0;
    struct sender s4 = {pthread_self(), SIGUSR1, 100, 50, &stop, -1, 0, 0};
    start_sender(&s4);
    memset(&rem, 0, sizeof rem);
    CHECK_EQ(clock_nanosleep(CLOCK_MONOTONIC, 0, &req, &rem), EINTR);
    stop = 1;
    CHECK_EQ(pthread_join(s4.th, NULL), 0);
    CHECK(rem.tv_sec < 5 && rem.tv_sec >= 1);
    printf("clock_nanosleep interrupted: returns EINTR, remaining set\n");

    /* pause returns after a handler */
    stop = 0;
    clear_h();
    struct sender s5 = {pthread_self(), SIGUSR1, 50, 50, &stop, -1, 0, 0};
    start_sender(&s5);
    CHECK_ERR(pause(), EINTR);
    stop = 1;
    CHECK_EQ(pthread_join(s5.th, NULL), 0);
    CHECK(h_count >= 1);
    printf("pause: -1/EINTR after the handler ran\n");
    close(p[0]);
    close(p[1]);
    reset(SIGUSR1);
}

/* ------------------------------------------------------------ restarts */

static long ms_from(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

#define FUTEX_WAIT 0
#define FUTEX_WAKE 1

static int rs_word;

static void *rs_waker(void *arg)
{
    usleep((int)(intptr_t)arg * 1000);
    __atomic_store_n(&rs_word, 1, __ATOMIC_SEQ_CST);
    syscall(SYS_futex, &rs_word, FUTEX_WAKE, 1, NULL, NULL, 0);
    return NULL;
}

/* How Linux resumes each call after an interruption: a stopped and continued sleep goes on
 * for the time left only (restart_syscall); a futex wait without a timeout is restarted
 * under SA_RESTART, one with a timeout is not (EINTR); an absolute clock_nanosleep returns
 * EINTR after a handler. */
static void test_restart(void)
{
    t_section("restarts");
    /* stopped 400 ms in the middle of a 1 s nanosleep: it still ends after ~1 s */
    pid_t parent = getpid();
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    fflush(stdout);
    pid_t kid = fork();
    if (kid == 0) {
        usleep(100000);
        kill(parent, SIGSTOP);
        usleep(400000);
        kill(parent, SIGCONT);
        _exit(0);
    }
    struct timespec req = {1, 0};
    CHECK_EQ(nanosleep(&req, NULL), 0);
    long ms = ms_from(&t0);
    CHECK(ms >= 1000);
    CHECK(ms < 1400); /* a restart from the beginning would end at ~1500 ms */
    int st;
    CHECK_EQ(waitpid(kid, &st, 0), kid);
    printf("nanosleep(1 s) stopped for 400 ms and continued: ends after 1 s, not 1.5 s\n");

    /* FUTEX_WAIT without a timeout, SA_RESTART handler: restarted, returns once woken */
    volatile int stop = 0;
    CHECK_EQ(set_handler(SIGUSR1, count_handler, SA_RESTART), 0);
    clear_h();
    rs_word = 0;
    struct sender s = {pthread_self(), SIGUSR1, 50, 0, &stop, -1, 0, 0};
    start_sender(&s);
    pthread_t w;
    CHECK_EQ(pthread_create(&w, NULL, rs_waker, (void *)(intptr_t)300), 0);
    long r = syscall(SYS_futex, &rs_word, FUTEX_WAIT, 0, NULL, NULL, 0);
    CHECK_EQ(r, 0);
    CHECK_EQ(rs_word, 1);
    CHECK_EQ(h_count, 1);
    CHECK_EQ(pthread_join(s.th, NULL), 0);
    CHECK_EQ(pthread_join(w, NULL), 0);
    printf("FUTEX_WAIT, no timeout, SA_RESTART: the handler ran and the wait went on until woken\n");

    /* with a timeout: EINTR after the handler, SA_RESTART or not */
    clear_h();
    rs_word = 0;
    struct sender s2 = {pthread_self(), SIGUSR1, 50, 0, &stop, -1, 0, 0};
    start_sender(&s2);
    struct timespec to = {5, 0};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_ERR(syscall(SYS_futex, &rs_word, FUTEX_WAIT, 0, &to, NULL, 0), EINTR);
    CHECK(ms_from(&t0) < 4000);
    CHECK_EQ(h_count, 1);
    CHECK_EQ(pthread_join(s2.th, NULL), 0);
    printf("FUTEX_WAIT with a timeout, SA_RESTART: EINTR\n");

    /* an absolute clock_nanosleep: EINTR after a handler, even with SA_RESTART */
    clear_h();
    struct sender s3 = {pthread_self(), SIGUSR1, 50, 0, &stop, -1, 0, 0};
    start_sender(&s3);
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += 5;
    CHECK_EQ(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL), EINTR);
    CHECK_EQ(h_count, 1);
    CHECK_EQ(pthread_join(s3.th, NULL), 0);
    reset(SIGUSR1);
    printf("clock_nanosleep TIMER_ABSTIME, SA_RESTART: EINTR\n");
}

/* ------------------------------------------------------------ threads */

static volatile pid_t target_tid;
static volatile int thread_stop;

static void *busy_thread(void *arg)
{
    (void)arg;
    target_tid = gettid_();
    while (!thread_stop)
        __asm__ volatile("" ::: "memory");
    return NULL;
}

static void test_threads(void)
{
    t_section("threads");
    CHECK_EQ(set_info_handler(SIGUSR1, info_handler, 0, NULL), 0);
    thread_stop = 0;
    target_tid = 0;
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, busy_thread, NULL), 0);
    while (!target_tid)
        usleep(1000);
    /* a thread-directed signal runs on that thread, even while it computes */
    clear_h();
    CHECK_EQ(pthread_kill(t, SIGUSR1), 0);
    for (int i = 0; i < 5000 && !h_count; i++)
        usleep(1000);
    CHECK_EQ(h_count, 1);
    CHECK_EQ(h_tid, target_tid);
    CHECK_EQ(h_code, SI_TKILL);
    printf("pthread_kill to a busy thread: handled on that thread\n");

    /* a process-directed signal goes to the thread that does not block it */
    block(SIGUSR1, SIG_BLOCK);
    clear_h();
    CHECK_EQ(kill(getpid(), SIGUSR1), 0);
    for (int i = 0; i < 5000 && !h_count; i++)
        usleep(1000);
    CHECK_EQ(h_count, 1);
    CHECK_EQ(h_tid, target_tid);
    CHECK_EQ(h_code, SI_USER);
    printf("kill(getpid()) with the main thread blocking it: handled by the other thread\n");
    thread_stop = 1;
    CHECK_EQ(pthread_join(t, NULL), 0);

    /* every thread blocks it: it stays pending for the process */
    clear_h();
    CHECK_EQ(kill(getpid(), SIGUSR1), 0);
    CHECK_EQ(is_pending(SIGUSR1), 1);
    CHECK_EQ(h_count, 0);
    block(SIGUSR1, SIG_UNBLOCK);
    CHECK_EQ(h_count, 1);
    CHECK_EQ(h_tid, gettid_());
    printf("blocked everywhere: pending until the main thread unblocks it\n");
    reset(SIGUSR1);
}

/* ------------------------------------------------------------ children */

static volatile sig_atomic_t chld_count, chld_code, chld_status;
static volatile pid_t chld_pid;

static void chld_handler(int sig, siginfo_t *si, void *ctx)
{
    (void)sig;
    (void)ctx;
    chld_count++;
    chld_code = si->si_code;
    chld_status = si->si_status;
    chld_pid = si->si_pid;
}

static void test_children(void)
{
    t_section("children");
    CHECK_EQ(set_info_handler(SIGCHLD, chld_handler, SA_RESTART, NULL), 0);
    block(SIGCHLD, SIG_BLOCK);
    chld_count = 0;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0)
        _exit(3);
    sigset_t empty;
    sigemptyset(&empty);
    while (!chld_count)
        sigsuspend(&empty);
    CHECK_EQ(chld_count, 1);
    CHECK_EQ(chld_code, CLD_EXITED);
    CHECK_EQ(chld_status, 3);
    CHECK_EQ(chld_pid, pid);
    int st;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 3);
    printf("SIGCHLD: CLD_EXITED, si_status 3, si_pid = the child\n");

    chld_count = 0;
    pid = fork();
    if (pid == 0) {
        raise(SIGUSR1); /* default action: terminate */
        _exit(0);
    }
    while (!chld_count)
        sigsuspend(&empty);
    CHECK_EQ(chld_code, CLD_KILLED);
    CHECK_EQ(chld_status, SIGUSR1);
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGUSR1);
    block(SIGCHLD, SIG_UNBLOCK);
    printf("SIGCHLD: CLD_KILLED by SIGUSR1 (default action)\n");

    /* default actions that ignore: the child goes on */
    pid = fork();
    if (pid == 0) {
        raise(SIGCHLD);
        raise(SIGURG);
        raise(SIGWINCH);
        raise(SIGCONT);
        _exit(5);
    }
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 5);
    printf("SIGCHLD, SIGURG, SIGWINCH, SIGCONT ignored by default\n");

    /* SIGCHLD set to SIG_IGN: children are reaped by the system, wait ends
     * with ECHILD once they are gone */
    CHECK_EQ(set_handler(SIGCHLD, SIG_IGN, 0), 0);
    pid = fork();
    if (pid == 0) {
        usleep(20000);
        _exit(0);
    }
    CHECK_ERR(waitpid(pid, &st, 0), ECHILD);
    CHECK_ERR(kill(pid, 0), ESRCH);
    reset(SIGCHLD);
    printf("SIGCHLD ignored: no zombie, waitpid ECHILD\n");
}

int main(void)
{
    test_siginfo();
    test_queueing();
    test_flags();
    test_mask();
    test_wait();
    test_segv();
    test_fpe();
    test_overflow();
    test_interrupt();
    test_restart();
    test_threads();
    test_children();
    return t_finish("signals");
}
