/* Thread and signal stress (not a timed test: the durations only bound the
 * run).  Exit status 0 when every check held, 1 when one failed, 3 when the
 * watchdog found no progress (deadlock or lost wake-up).
 *
 *   threads-stress condvar [SECONDS] [THREADS]
 *       THREADS threads on one mutex and one condition variable.  First half
 *       of the time: a token passed round a ring with pthread_cond_broadcast
 *       (one lost wake-up stops the ring).  Second half: half the threads
 *       produce items with pthread_cond_signal, half consume them; at the
 *       end every item sent has been received (sent == received) and
 *       nothing is left waiting.
 *   threads-stress storm [SIGNALS]
 *       one thread blocked in read() on a pipe, one busy-looping, a sender
 *       thread sending SIGNALS SIGUSR1 with pthread_kill (alternately to the
 *       two), then SIGNALS process-directed SIGUSR2 with kill(); handlers
 *       count.  Each target received at least one, no more than were sent,
 *       a last signal still arrives after the storm, the reader then gets its
 *       data, and everything ends.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int failures;
#define CHECK(c)                                                      \
    do {                                                              \
        if (!(c)) {                                                   \
            printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #c);       \
            failures++;                                               \
        }                                                             \
    } while (0)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------ watchdog */

static volatile unsigned long progress;
static volatile int watchdog_stop;
static double watchdog_limit = 10.0; /* seconds without progress */
static const char *watchdog_what = "";

static void *watchdog(void *arg)
{
    (void)arg;
    unsigned long last = progress;
    double since = now_s();
    while (!watchdog_stop) {
        usleep(100000);
        unsigned long p = progress;
        if (p != last) {
            last = p;
            since = now_s();
        } else if (now_s() - since > watchdog_limit) {
            printf("FAIL watchdog: no progress for %.0f s in %s (progress %lu)\n", watchdog_limit,
                   watchdog_what, p);
            fflush(stdout);
            _exit(3);
        }
    }
    return NULL;
}

/* ------------------------------------------------------------ condvar */

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static int nthreads;
static int turn;
static int stop;
static unsigned long handoffs;
static long items;
static unsigned long sent, received;
static int waiting;

struct worker {
    pthread_t th;
    int id;
    unsigned long count;
};

static void *ring_worker(void *arg)
{
    struct worker *w = arg;
    pthread_mutex_lock(&m);
    for (;;) {
        while (turn != w->id && !stop)
            pthread_cond_wait(&c, &m);
        if (stop)
            break;
        turn = (turn + 1) % nthreads;
        handoffs++;
        progress++;
        w->count++;
        pthread_cond_broadcast(&c);
    }
    pthread_mutex_unlock(&m);
    return NULL;
}

static void *producer(void *arg)
{
    struct worker *w = arg;
    for (;;) {
        pthread_mutex_lock(&m);
        if (stop) {
            pthread_mutex_unlock(&m);
            break;
        }
        items++;
        sent++;
        w->count++;
        pthread_cond_signal(&c);
        pthread_mutex_unlock(&m);
        if ((w->count & 15) == 0)
            sched_yield();
    }
    return NULL;
}

static void *consumer(void *arg)
{
    struct worker *w = arg;
    pthread_mutex_lock(&m);
    for (;;) {
        while (items == 0 && !stop) {
            waiting++;
            pthread_cond_wait(&c, &m);
            waiting--;
        }
        if (items > 0) {
            items--;
            received++;
            progress++;
            w->count++;
            continue;
        }
        break; /* stop, and nothing left */
    }
    pthread_mutex_unlock(&m);
    return NULL;
}

static int run_condvar(double seconds, int n)
{
    nthreads = n;
    struct worker *w = calloc((size_t)n, sizeof *w);
    pthread_t wd;
    watchdog_what = "the broadcast ring";
    pthread_create(&wd, NULL, watchdog, NULL);

    /* phase 1: the ring */
    stop = 0;
    turn = 0;
    for (int i = 0; i < n; i++) {
        w[i].id = i;
        if (pthread_create(&w[i].th, NULL, ring_worker, &w[i]) != 0) {
            printf("FAIL pthread_create %d\n", i);
            return 1;
        }
    }
    double t0 = now_s();
    while (now_s() - t0 < seconds / 2)
        usleep(50000);
    pthread_mutex_lock(&m);
    stop = 1;
    pthread_cond_broadcast(&c);
    pthread_mutex_unlock(&m);
    unsigned long min = ~0UL, max = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(w[i].th, NULL);
        if (w[i].count < min)
            min = w[i].count;
        if (w[i].count > max)
            max = w[i].count;
    }
    /* round robin: every thread had its turn, within one of each other */
    CHECK(min > 0);
    CHECK(max - min <= 1);
    printf("ring: %d threads, %lu hand-offs with pthread_cond_broadcast (per thread %lu..%lu)\n", n,
           handoffs, min, max);

    /* phase 2: producers and consumers with pthread_cond_signal */
    watchdog_what = "the producer/consumer phase";
    stop = 0;
    int np = n / 2, nc = n - n / 2;
    for (int i = 0; i < n; i++) {
        w[i].count = 0;
        pthread_create(&w[i].th, NULL, i < np ? producer : consumer, &w[i]);
    }
    t0 = now_s();
    while (now_s() - t0 < seconds / 2)
        usleep(50000);
    pthread_mutex_lock(&m);
    stop = 1; /* producers stop; consumers drain what is left, then end */
    pthread_cond_broadcast(&c);
    pthread_mutex_unlock(&m);
    for (int i = 0; i < n; i++)
        pthread_join(w[i].th, NULL);
    unsigned long psum = 0, csum = 0;
    for (int i = 0; i < n; i++)
        *(i < np ? &psum : &csum) += w[i].count;
    CHECK(sent == received);
    CHECK(items == 0);
    CHECK(waiting == 0);
    CHECK(psum == sent && csum == received);
    CHECK(received > 0);
    printf("signal: %d producers, %d consumers: sent %lu, received %lu, left %ld\n", np, nc, sent,
           received, items);
    watchdog_stop = 1;
    pthread_join(wd, NULL);
    free(w);
    return failures ? 1 : 0;
}

/* ------------------------------------------------------------ storm */

static volatile pid_t reader_tid, busy_tid;
static volatile unsigned long got_reader, got_busy, got_other, got_usr2;
static volatile int busy_stop;
static int pipefd[2];
static unsigned long eintr_count;

static void handler(int sig)
{
    pid_t t = (pid_t)syscall(SYS_gettid);
    if (sig == SIGUSR2)
        __atomic_add_fetch(&got_usr2, 1, __ATOMIC_RELAXED);
    else if (t == reader_tid)
        __atomic_add_fetch(&got_reader, 1, __ATOMIC_RELAXED);
    else if (t == busy_tid)
        __atomic_add_fetch(&got_busy, 1, __ATOMIC_RELAXED);
    else
        __atomic_add_fetch(&got_other, 1, __ATOMIC_RELAXED);
    progress++;
}

static void *reader(void *arg)
{
    (void)arg;
    reader_tid = (pid_t)syscall(SYS_gettid);
    char buf[16];
    for (;;) {
        ssize_t r = read(pipefd[0], buf, sizeof buf);
        if (r < 0 && errno == EINTR) {
            eintr_count++;
            continue;
        }
        return (void *)(r == 3 && memcmp(buf, "end", 3) == 0 ? (void *)1 : NULL);
    }
}

static void *busy(void *arg)
{
    (void)arg;
    busy_tid = (pid_t)syscall(SYS_gettid);
    volatile unsigned long x = 0;
    while (!busy_stop)
        x++;
    return NULL;
}

static int run_storm(long nsig)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler; /* no SA_RESTART: the reader sees EINTR */
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);
    if (pipe(pipefd) != 0)
        return 1;
    pthread_t wd, rt, bt;
    watchdog_what = "the signal storm";
    watchdog_limit = 20;
    pthread_create(&wd, NULL, watchdog, NULL);
    pthread_create(&rt, NULL, reader, NULL);
    pthread_create(&bt, NULL, busy, NULL);
    while (!reader_tid || !busy_tid)
        usleep(1000);
    usleep(20000);
    /* the main thread is the sender; it blocks both signals itself so that
     * process-directed ones go to the two others */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    for (long i = 0; i < nsig; i++) {
        pthread_kill(i & 1 ? bt : rt, SIGUSR1);
        progress++;
    }
    for (long i = 0; i < nsig; i++) {
        kill(getpid(), SIGUSR2);
        progress++;
    }
    /* after the storm: one more to each still arrives */
    unsigned long r0 = got_reader, b0 = got_busy;
    usleep(10000);
    r0 = got_reader;
    b0 = got_busy;
    pthread_kill(rt, SIGUSR1);
    pthread_kill(bt, SIGUSR1);
    double t0 = now_s();
    while ((got_reader == r0 || got_busy == b0) && now_s() - t0 < 10)
        usleep(1000);
    CHECK(got_reader > r0);
    CHECK(got_busy > b0);
    /* release the reader and the busy thread */
    if (write(pipefd[1], "end", 3) != 3)
        failures++;
    void *rr = NULL;
    pthread_join(rt, &rr);
    busy_stop = 1;
    pthread_join(bt, NULL);
    CHECK(rr == (void *)1);
    CHECK(got_reader >= 1 && got_busy >= 1);
    CHECK(got_reader + got_busy <= (unsigned long)nsig + 2);
    CHECK(got_usr2 >= 1 && got_usr2 <= (unsigned long)nsig);
    CHECK(got_other == 0);
    printf("storm: sent %ld SIGUSR1 (pthread_kill) + %ld SIGUSR2 (kill); reader handled %lu (EINTR %lu), busy %lu, "
           "SIGUSR2 %lu, elsewhere %lu\n",
           nsig, nsig, got_reader, eintr_count, got_busy, got_usr2, got_other);
    watchdog_stop = 1;
    pthread_join(wd, NULL);
    return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 2 && strcmp(argv[1], "condvar") == 0) {
        double secs = argc > 2 ? atof(argv[2]) : 10;
        int n = argc > 3 ? atoi(argv[3]) : 64;
        int rc = run_condvar(secs, n);
        printf("condvar: %s\n", rc ? "FAILED" : "ok");
        return rc;
    }
    if (argc >= 2 && strcmp(argv[1], "storm") == 0) {
        long n = argc > 2 ? atol(argv[2]) : 10000;
        int rc = run_storm(n);
        printf("storm: %s\n", rc ? "FAILED" : "ok");
        return rc;
    }
    fprintf(stderr, "usage: %s condvar [SECONDS] [THREADS] | storm [SIGNALS]\n", argv[0]);
    return 2;
}
