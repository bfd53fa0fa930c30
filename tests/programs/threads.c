/* Threads: pthread mutexes (normal, error-checking, recursive, PI, robust
 * with a dying owner thread and a dying owner process), condition variables,
 * rwlocks, barriers, spinlocks, semaphores, TLS (__thread) and thread-specific
 * data with destructors, 64 threads x 10000 locked increments, 256 threads
 * alive at once, join values, detach, cancellation (in pthread_cond_wait and
 * in sleep, cleanup handlers, disabled cancellation), small and
 * caller-provided stacks, raw futex calls. */
#include "t.h"
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

static void *ptr(long v) { return (void *)(intptr_t)v; }
static long val(void *p) { return (long)(intptr_t)p; }

/* ------------------------------------------------------------ mutexes */

static pthread_mutex_t big_lock = PTHREAD_MUTEX_INITIALIZER;
static long big_counter;

static void *inc_thread(void *arg)
{
    long n = val(arg);
    for (long i = 0; i < n; i++) {
        pthread_mutex_lock(&big_lock);
        big_counter++;
        pthread_mutex_unlock(&big_lock);
    }
    return ptr(n);
}

static void *owner_thread(void *arg)
{
    pthread_mutex_t *m = arg;
    return ptr(pthread_mutex_lock(m));
}

static void *unlock_other(void *arg)
{
    return ptr(pthread_mutex_unlock(arg));
}

static void *trylock_other(void *arg)
{
    return ptr(pthread_mutex_trylock(arg));
}

static void test_robust_process(void)
{
    t_section("robust process-shared mutex");
    /* robust and process-shared: the owner process dies.  (First of the
     * robust tests: musl 1.2.3 does not register the robust list again in a
     * forked child once the parent's thread has used one.) */
    pthread_mutex_t *sm = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(sm != MAP_FAILED);
    pthread_mutexattr_t psa;
    CHECK_EQ(pthread_mutexattr_init(&psa), 0);
    CHECK_EQ(pthread_mutexattr_setrobust(&psa, PTHREAD_MUTEX_ROBUST), 0);
    CHECK_EQ(pthread_mutexattr_setpshared(&psa, PTHREAD_PROCESS_SHARED), 0);
    CHECK_EQ(pthread_mutex_init(sm, &psa), 0);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        if (pthread_mutex_lock(sm) != 0)
            _exit(2);
        _exit(0);
    }
    int st = -1;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK_EQ(pthread_mutex_lock(sm), EOWNERDEAD);
    CHECK_EQ(pthread_mutex_consistent(sm), 0);
    CHECK_EQ(pthread_mutex_unlock(sm), 0);
    pthread_mutex_destroy(sm);
    munmap(sm, 4096);
    pthread_mutexattr_destroy(&psa);
    printf("process-shared robust mutex: EOWNERDEAD after the owner process exited\n");
}

static void test_mutex(void)
{
    t_section("mutex");
    enum { NT = 64, NINC = 10000 };
    pthread_t th[NT];
    big_counter = 0;
    for (int i = 0; i < NT; i++)
        CHECK_EQ(pthread_create(&th[i], NULL, inc_thread, ptr(NINC)), 0);
    long sum = 0;
    for (int i = 0; i < NT; i++) {
        void *r = NULL;
        CHECK_EQ(pthread_join(th[i], &r), 0);
        sum += val(r);
    }
    CHECK_EQ(big_counter, (long)NT * NINC);
    CHECK_EQ(sum, (long)NT * NINC);
    printf("%d threads x %d locked increments: %ld\n", NT, NINC, big_counter);

    /* trylock */
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    CHECK_EQ(pthread_mutex_trylock(&m), 0);
    pthread_t t;
    void *r;
    CHECK_EQ(pthread_create(&t, NULL, trylock_other, &m), 0);
    CHECK_EQ(pthread_join(t, &r), 0);
    CHECK_EQ(val(r), EBUSY);
    CHECK_EQ(pthread_mutex_unlock(&m), 0);
    CHECK_EQ(pthread_mutex_destroy(&m), 0);

    /* error-checking */
    pthread_mutexattr_t a;
    CHECK_EQ(pthread_mutexattr_init(&a), 0);
    CHECK_EQ(pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK), 0);
    CHECK_EQ(pthread_mutex_init(&m, &a), 0);
    CHECK_EQ(pthread_mutex_unlock(&m), EPERM);
    CHECK_EQ(pthread_mutex_lock(&m), 0);
    CHECK_EQ(pthread_mutex_lock(&m), EDEADLK);
    CHECK_EQ(pthread_create(&t, NULL, unlock_other, &m), 0);
    CHECK_EQ(pthread_join(t, &r), 0);
    CHECK_EQ(val(r), EPERM);
    CHECK_EQ(pthread_mutex_unlock(&m), 0);
    pthread_mutex_destroy(&m);

    /* recursive */
    CHECK_EQ(pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE), 0);
    CHECK_EQ(pthread_mutex_init(&m, &a), 0);
    CHECK_EQ(pthread_mutex_lock(&m), 0);
    CHECK_EQ(pthread_mutex_lock(&m), 0);
    CHECK_EQ(pthread_mutex_trylock(&m), 0);
    CHECK_EQ(pthread_create(&t, NULL, trylock_other, &m), 0);
    CHECK_EQ(pthread_join(t, &r), 0);
    CHECK_EQ(val(r), EBUSY);
    CHECK_EQ(pthread_mutex_unlock(&m), 0);
    CHECK_EQ(pthread_mutex_unlock(&m), 0);
    CHECK_EQ(pthread_mutex_unlock(&m), 0);
    CHECK_EQ(pthread_mutex_unlock(&m), EPERM);
    pthread_mutex_destroy(&m);
    printf("trylock EBUSY; errorcheck EDEADLK/EPERM; recursive depth 3\n");

    /* priority inheritance (FUTEX_LOCK_PI / UNLOCK_PI), contended */
    CHECK_EQ(pthread_mutexattr_settype(&a, PTHREAD_MUTEX_NORMAL), 0);
    CHECK_EQ(pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT), 0);
    CHECK_EQ(pthread_mutex_init(&big_lock, &a), 0);
    big_counter = 0;
    for (int i = 0; i < 8; i++)
        CHECK_EQ(pthread_create(&th[i], NULL, inc_thread, ptr(20000)), 0);
    for (int i = 0; i < 8; i++)
        CHECK_EQ(pthread_join(th[i], NULL), 0);
    CHECK_EQ(big_counter, 8 * 20000);
    CHECK_EQ(pthread_mutex_trylock(&big_lock), 0);
    CHECK_EQ(pthread_create(&t, NULL, trylock_other, &big_lock), 0);
    CHECK_EQ(pthread_join(t, &r), 0);
    CHECK_EQ(val(r), EBUSY);
    CHECK_EQ(pthread_mutex_unlock(&big_lock), 0);
    pthread_mutex_destroy(&big_lock);
    pthread_mutex_init(&big_lock, NULL);
    printf("PI mutex: 8 threads x 20000 increments: %ld\n", big_counter);

    /* robust: the owner thread exits holding the lock */
    pthread_mutexattr_t ra;
    CHECK_EQ(pthread_mutexattr_init(&ra), 0);
    CHECK_EQ(pthread_mutexattr_setrobust(&ra, PTHREAD_MUTEX_ROBUST), 0);
    CHECK_EQ(pthread_mutex_init(&m, &ra), 0);
    CHECK_EQ(pthread_create(&t, NULL, owner_thread, &m), 0);
    CHECK_EQ(pthread_join(t, &r), 0);
    CHECK_EQ(val(r), 0);
    CHECK_EQ(pthread_mutex_lock(&m), EOWNERDEAD);
    CHECK_EQ(pthread_mutex_consistent(&m), 0);
    CHECK_EQ(pthread_mutex_unlock(&m), 0);
    CHECK_EQ(pthread_mutex_lock(&m), 0);
    CHECK_EQ(pthread_mutex_unlock(&m), 0);
    /* not made consistent: unrecoverable */
    CHECK_EQ(pthread_create(&t, NULL, owner_thread, &m), 0);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK_EQ(pthread_mutex_trylock(&m), EOWNERDEAD);
    CHECK_EQ(pthread_mutex_unlock(&m), 0);
    CHECK_EQ(pthread_mutex_lock(&m), ENOTRECOVERABLE);
    pthread_mutex_destroy(&m);
    pthread_mutexattr_destroy(&ra);
    pthread_mutexattr_destroy(&a);
    printf("robust mutex: EOWNERDEAD after the owner thread died, consistent; else ENOTRECOVERABLE\n");

}

/* ------------------------------------------------------------ condvars */

enum { QCAP = 16, NITEMS = 20000, NPROD = 4, NCONS = 4 };
static struct {
    pthread_mutex_t lock;
    pthread_cond_t not_empty, not_full;
    long buf[QCAP];
    int head, count, producers_left;
} q = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}, 0, 0, 0};

static void *producer(void *arg)
{
    long base = val(arg);
    for (long i = 0; i < NITEMS / NPROD; i++) {
        pthread_mutex_lock(&q.lock);
        while (q.count == QCAP)
            pthread_cond_wait(&q.not_full, &q.lock);
        q.buf[(q.head + q.count) % QCAP] = base + i;
        q.count++;
        pthread_cond_signal(&q.not_empty);
        pthread_mutex_unlock(&q.lock);
    }
    pthread_mutex_lock(&q.lock);
    if (--q.producers_left == 0)
        pthread_cond_broadcast(&q.not_empty);
    pthread_mutex_unlock(&q.lock);
    return NULL;
}

static void *consumer(void *arg)
{
    (void)arg;
    long sum = 0;
    for (;;) {
        pthread_mutex_lock(&q.lock);
        while (q.count == 0 && q.producers_left > 0)
            pthread_cond_wait(&q.not_empty, &q.lock);
        if (q.count == 0) {
            pthread_mutex_unlock(&q.lock);
            break;
        }
        sum += q.buf[q.head];
        q.head = (q.head + 1) % QCAP;
        q.count--;
        pthread_cond_signal(&q.not_full);
        pthread_mutex_unlock(&q.lock);
    }
    return ptr(sum);
}

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static int gate_open, gate_waiting;

static void *gate_waiter(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&gate_lock);
    gate_waiting++;
    pthread_cond_broadcast(&gate_cond);
    while (!gate_open)
        pthread_cond_wait(&gate_cond, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
    return ptr(1);
}

static void test_cond(void)
{
    t_section("condvar");
    pthread_t prod[NPROD], cons[NCONS];
    q.producers_left = NPROD;
    for (int i = 0; i < NPROD; i++)
        CHECK_EQ(pthread_create(&prod[i], NULL, producer, ptr(i * 1000000L)), 0);
    for (int i = 0; i < NCONS; i++)
        CHECK_EQ(pthread_create(&cons[i], NULL, consumer, NULL), 0);
    long total = 0;
    for (int i = 0; i < NPROD; i++)
        CHECK_EQ(pthread_join(prod[i], NULL), 0);
    for (int i = 0; i < NCONS; i++) {
        void *r;
        CHECK_EQ(pthread_join(cons[i], &r), 0);
        total += val(r);
    }
    long want = 0;
    for (long p = 0; p < NPROD; p++)
        for (long i = 0; i < NITEMS / NPROD; i++)
            want += p * 1000000L + i;
    CHECK_EQ(total, want);
    printf("bounded queue: %d producers, %d consumers, %d items, sum %ld\n", NPROD, NCONS, NITEMS, total);

    /* broadcast wakes every waiter */
    enum { NW = 8 };
    pthread_t w[NW];
    for (int i = 0; i < NW; i++)
        CHECK_EQ(pthread_create(&w[i], NULL, gate_waiter, NULL), 0);
    pthread_mutex_lock(&gate_lock);
    while (gate_waiting < NW)
        pthread_cond_wait(&gate_cond, &gate_lock);
    gate_open = 1;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
    long woke = 0;
    for (int i = 0; i < NW; i++) {
        void *r;
        CHECK_EQ(pthread_join(w[i], &r), 0);
        woke += val(r);
    }
    CHECK_EQ(woke, NW);
    printf("broadcast woke %ld waiters\n", woke);

    /* timed waits: a deadline in the past, a short relative one, monotonic */
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t c = PTHREAD_COND_INITIALIZER;
    struct timespec ts, t0, t1;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec -= 1;
    pthread_mutex_lock(&m);
    CHECK_EQ(pthread_cond_timedwait(&c, &m, &ts), ETIMEDOUT);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 50 * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    CHECK_EQ(pthread_cond_timedwait(&c, &m, &ts), ETIMEDOUT);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    CHECK(ms >= 45);
    pthread_mutex_unlock(&m);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    CHECK_EQ(pthread_condattr_setclock(&ca, CLOCK_MONOTONIC), 0);
    pthread_cond_t cm;
    CHECK_EQ(pthread_cond_init(&cm, &ca), 0);
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += 20 * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&m);
    CHECK_EQ(pthread_cond_timedwait(&cm, &m, &ts), ETIMEDOUT);
    pthread_mutex_unlock(&m);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK(t1.tv_sec > ts.tv_sec || (t1.tv_sec == ts.tv_sec && t1.tv_nsec >= ts.tv_nsec));
    pthread_cond_destroy(&cm);
    pthread_condattr_destroy(&ca);
    printf("timedwait: ETIMEDOUT (past, +50 ms realtime, +20 ms monotonic)\n");
}

/* ------------------------------------------------------------ rwlock, barrier, spin, sem */

static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static pthread_barrier_t bar;
static long rw_value;

static void *reader(void *arg)
{
    (void)arg;
    long r = 0;
    CHECK_EQ(pthread_rwlock_rdlock(&rw), 0);
    /* every reader holds the lock at once: they all pass the barrier */
    pthread_barrier_wait(&bar);
    r = rw_value;
    CHECK_EQ(pthread_rwlock_trywrlock(&rw), EBUSY);
    pthread_barrier_wait(&bar);
    CHECK_EQ(pthread_rwlock_unlock(&rw), 0);
    return ptr(r);
}

static void *writer(void *arg)
{
    long n = val(arg);
    for (long i = 0; i < n; i++) {
        pthread_rwlock_wrlock(&rw);
        long v = rw_value;
        sched_yield();
        rw_value = v + 1;
        pthread_rwlock_unlock(&rw);
        pthread_rwlock_rdlock(&rw);
        (void)rw_value;
        pthread_rwlock_unlock(&rw);
    }
    return NULL;
}

static void *try_rd(void *arg)
{
    (void)arg;
    return ptr(pthread_rwlock_tryrdlock(&rw));
}

static int serial_count;
static pthread_mutex_t serial_lock = PTHREAD_MUTEX_INITIALIZER;

static void *barrier_thread(void *arg)
{
    (void)arg;
    for (int round = 0; round < 100; round++) {
        int r = pthread_barrier_wait(&bar);
        if (r == PTHREAD_BARRIER_SERIAL_THREAD) {
            pthread_mutex_lock(&serial_lock);
            serial_count++;
            pthread_mutex_unlock(&serial_lock);
        } else if (r != 0) {
            return ptr(1);
        }
    }
    return NULL;
}

static pthread_spinlock_t spin;
static long spin_counter;

static void *spin_thread(void *arg)
{
    long n = val(arg);
    for (long i = 0; i < n; i++) {
        pthread_spin_lock(&spin);
        spin_counter++;
        pthread_spin_unlock(&spin);
    }
    return NULL;
}

static sem_t sem_items;
static long sem_sum;

static void *sem_poster(void *arg)
{
    long n = val(arg);
    for (long i = 0; i < n; i++) {
        __atomic_add_fetch(&sem_sum, 1, __ATOMIC_RELAXED);
        sem_post(&sem_items);
    }
    return NULL;
}

static void test_sync(void)
{
    t_section("rwlock, barrier, spinlock, semaphore");
    enum { NR = 6 };
    pthread_t th[16];
    rw_value = 77;
    CHECK_EQ(pthread_barrier_init(&bar, NULL, NR), 0);
    for (int i = 0; i < NR; i++)
        CHECK_EQ(pthread_create(&th[i], NULL, reader, NULL), 0);
    long s = 0;
    for (int i = 0; i < NR; i++) {
        void *r;
        CHECK_EQ(pthread_join(th[i], &r), 0);
        s += val(r);
    }
    CHECK_EQ(s, 77 * NR);
    pthread_barrier_destroy(&bar);
    printf("%d readers held the rwlock together; trywrlock EBUSY meanwhile\n", NR);

    CHECK_EQ(pthread_rwlock_wrlock(&rw), 0);
    pthread_t t;
    void *r;
    CHECK_EQ(pthread_create(&t, NULL, try_rd, NULL), 0);
    CHECK_EQ(pthread_join(t, &r), 0);
    CHECK_EQ(val(r), EBUSY);
    CHECK_EQ(pthread_rwlock_unlock(&rw), 0);
    rw_value = 0;
    for (int i = 0; i < 4; i++)
        CHECK_EQ(pthread_create(&th[i], NULL, writer, ptr(2000)), 0);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(pthread_join(th[i], NULL), 0);
    CHECK_EQ(rw_value, 8000);
    printf("writers exclusive: tryrdlock EBUSY, 4 x 2000 read-modify-writes: %ld\n", rw_value);

    enum { NB = 8 };
    CHECK_EQ(pthread_barrier_init(&bar, NULL, NB), 0);
    serial_count = 0;
    for (int i = 0; i < NB; i++)
        CHECK_EQ(pthread_create(&th[i], NULL, barrier_thread, NULL), 0);
    long bad = 0;
    for (int i = 0; i < NB; i++) {
        CHECK_EQ(pthread_join(th[i], &r), 0);
        bad += val(r);
    }
    CHECK_EQ(bad, 0);
    CHECK_EQ(serial_count, 100);
    pthread_barrier_destroy(&bar);
    printf("barrier: %d threads, 100 rounds, one serial thread per round\n", NB);

    CHECK_EQ(pthread_spin_init(&spin, PTHREAD_PROCESS_PRIVATE), 0);
    spin_counter = 0;
    for (int i = 0; i < 8; i++)
        CHECK_EQ(pthread_create(&th[i], NULL, spin_thread, ptr(10000)), 0);
    for (int i = 0; i < 8; i++)
        CHECK_EQ(pthread_join(th[i], NULL), 0);
    CHECK_EQ(spin_counter, 80000);
    CHECK_EQ(pthread_spin_trylock(&spin), 0);
    CHECK_EQ(pthread_spin_trylock(&spin), EBUSY);
    CHECK_EQ(pthread_spin_unlock(&spin), 0);
    pthread_spin_destroy(&spin);
    printf("spinlock: 8 x 10000 increments: %ld\n", spin_counter);

    CHECK_EQ(sem_init(&sem_items, 0, 0), 0);
    CHECK_ERR(sem_trywait(&sem_items), EAGAIN);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 10000000;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    CHECK_ERR(sem_timedwait(&sem_items, &ts), ETIMEDOUT);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(pthread_create(&th[i], NULL, sem_poster, ptr(5000)), 0);
    for (int i = 0; i < 20000; i++)
        while (sem_wait(&sem_items) != 0 && errno == EINTR) {
        }
    for (int i = 0; i < 4; i++)
        CHECK_EQ(pthread_join(th[i], NULL), 0);
    int v = -1;
    CHECK_EQ(sem_getvalue(&sem_items, &v), 0);
    CHECK_EQ(v, 0);
    CHECK_EQ(sem_sum, 20000);
    sem_destroy(&sem_items);
    printf("semaphore: 20000 posts from 4 threads, 20000 waits\n");
}

/* ------------------------------------------------------------ TLS and keys */

static __thread int tls_int = 1234;
static __thread char tls_arr[64] = "initial tls data";
static __thread long tls_zero[128];
static pthread_key_t key;
static long dtor_calls, dtor_sum;

static void key_dtor(void *v)
{
    __atomic_add_fetch(&dtor_calls, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&dtor_sum, val(v), __ATOMIC_RELAXED);
}

static void *tls_thread(void *arg)
{
    long id = val(arg);
    long bad = 0;
    bad += tls_int != 1234;
    bad += strcmp(tls_arr, "initial tls data") != 0;
    for (int i = 0; i < 128; i++)
        bad += tls_zero[i] != 0;
    bad += pthread_getspecific(key) != NULL;
    tls_int = (int)id;
    snprintf(tls_arr, sizeof tls_arr, "thread %ld", id);
    tls_zero[5] = id;
    pthread_setspecific(key, ptr(id));
    pthread_barrier_wait(&bar); /* every thread has written its own copy */
    char want[64];
    snprintf(want, sizeof want, "thread %ld", id);
    bad += tls_int != id;
    bad += strcmp(tls_arr, want) != 0;
    bad += tls_zero[5] != id;
    bad += val(pthread_getspecific(key)) != id;
    /* the address of a TLS variable is per thread */
    return ptr(bad);
}

static void test_tls(void)
{
    t_section("TLS");
    enum { NT = 8 };
    CHECK_EQ(pthread_key_create(&key, key_dtor), 0);
    CHECK_EQ(pthread_barrier_init(&bar, NULL, NT), 0);
    tls_int = 99;
    strcpy(tls_arr, "main");
    pthread_setspecific(key, ptr(1000));
    pthread_t th[NT];
    for (int i = 0; i < NT; i++)
        CHECK_EQ(pthread_create(&th[i], NULL, tls_thread, ptr(i + 1)), 0);
    long bad = 0;
    for (int i = 0; i < NT; i++) {
        void *r;
        CHECK_EQ(pthread_join(th[i], &r), 0);
        bad += val(r);
    }
    pthread_barrier_destroy(&bar);
    CHECK_EQ(bad, 0);
    CHECK_EQ(tls_int, 99);
    CHECK(strcmp(tls_arr, "main") == 0);
    CHECK_EQ(val(pthread_getspecific(key)), 1000);
    CHECK_EQ(dtor_calls, NT);
    CHECK_EQ(dtor_sum, NT * (NT + 1) / 2);
    printf("__thread initial values in new threads, private copies; key destructors: %ld calls, sum %ld\n",
           dtor_calls, dtor_sum);
    CHECK_EQ(pthread_setspecific(key, NULL), 0);
    CHECK_EQ(pthread_key_delete(key), 0);
    /* many keys */
    pthread_key_t keys[100];
    int ok = 1;
    for (int i = 0; i < 100; i++)
        ok &= pthread_key_create(&keys[i], NULL) == 0;
    for (int i = 0; i < 100; i++)
        ok &= pthread_setspecific(keys[i], ptr(i + 1)) == 0;
    for (int i = 0; i < 100; i++)
        ok &= val(pthread_getspecific(keys[i])) == i + 1;
    for (int i = 0; i < 100; i++)
        ok &= pthread_key_delete(keys[i]) == 0;
    CHECK(ok);
}

/* ------------------------------------------------------------ create, join, detach */

static sem_t detach_done;
static long detach_ran;

static void *detached_thread(void *arg)
{
    __atomic_add_fetch(&detach_ran, val(arg), __ATOMIC_RELAXED);
    sem_post(&detach_done);
    return NULL;
}

static void *exit_thread(void *arg)
{
    pthread_exit(ptr(val(arg) * 3));
    return NULL;
}

static void *self_thread(void *arg)
{
    pthread_t *out = arg;
    *out = pthread_self();
    return ptr(syscall(SYS_gettid));
}

static void *stack_thread(void *arg)
{
    /* use most of a 64 KiB stack */
    volatile char buf[40 * 1024];
    for (size_t i = 0; i < sizeof buf; i += 512)
        buf[i] = (char)i;
    long s = 0;
    for (size_t i = 0; i < sizeof buf; i += 512)
        s += buf[i];
    char *base = arg;
    char here;
    if (base) /* caller-provided stack: our locals are in it */
        return ptr((&here > base && &here < base + 256 * 1024) ? 1 : 0);
    (void)s;
    return ptr(1);
}

static int alive_count;
static pthread_mutex_t alive_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t alive_cond = PTHREAD_COND_INITIALIZER;
static int alive_release;

static void *alive_thread(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&alive_lock);
    alive_count++;
    pthread_cond_broadcast(&alive_cond);
    while (!alive_release)
        pthread_cond_wait(&alive_cond, &alive_lock);
    pthread_mutex_unlock(&alive_lock);
    return ptr(syscall(SYS_gettid));
}

static void test_create(void)
{
    t_section("create, join, detach, stacks");
    pthread_t th[8];
    for (int i = 0; i < 8; i++)
        CHECK_EQ(pthread_create(&th[i], NULL, exit_thread, ptr(i)), 0);
    long bad = 0;
    for (int i = 0; i < 8; i++) {
        void *r;
        CHECK_EQ(pthread_join(th[i], &r), 0);
        bad += val(r) != i * 3;
    }
    CHECK_EQ(bad, 0);
    printf("pthread_exit values returned by pthread_join\n");

    pthread_t t, seen;
    void *r;
    CHECK_EQ(pthread_create(&t, NULL, self_thread, &seen), 0);
    CHECK_EQ(pthread_join(t, &r), 0);
    CHECK(pthread_equal(t, seen));
    CHECK(!pthread_equal(t, pthread_self()));
    CHECK(val(r) != getpid() && val(r) > 0);
    CHECK_EQ(syscall(SYS_gettid), getpid());
    printf("pthread_self matches, thread tid differs from the pid\n");

    CHECK_EQ(sem_init(&detach_done, 0, 0), 0);
    for (int i = 0; i < 8; i++) {
        CHECK_EQ(pthread_create(&t, NULL, detached_thread, ptr(i + 1)), 0);
        CHECK_EQ(pthread_detach(t), 0);
    }
    pthread_attr_t at;
    CHECK_EQ(pthread_attr_init(&at), 0);
    CHECK_EQ(pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED), 0);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(pthread_create(&t, &at, detached_thread, ptr(100)), 0);
    pthread_attr_destroy(&at);
    for (int i = 0; i < 12; i++)
        sem_wait(&detach_done);
    CHECK_EQ(detach_ran, 36 + 400);
    printf("12 detached threads ran\n");

    /* a 64 KiB stack, and a stack the caller mapped */
    CHECK_EQ(pthread_attr_init(&at), 0);
    CHECK_EQ(pthread_attr_setstacksize(&at, 64 * 1024), 0);
    size_t sz = 0;
    CHECK_EQ(pthread_attr_getstacksize(&at, &sz), 0);
    CHECK_EQ(sz, 64 * 1024);
    CHECK_EQ(pthread_create(&t, &at, stack_thread, NULL), 0);
    CHECK_EQ(pthread_join(t, &r), 0);
    CHECK_EQ(val(r), 1);
    pthread_attr_destroy(&at);
    size_t ssz = 256 * 1024;
    char *stk = mmap(NULL, ssz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(stk != MAP_FAILED);
    CHECK_EQ(pthread_attr_init(&at), 0);
    CHECK_EQ(pthread_attr_setstack(&at, stk, ssz), 0);
    CHECK_EQ(pthread_create(&t, &at, stack_thread, stk), 0);
    CHECK_EQ(pthread_join(t, &r), 0);
    CHECK_EQ(val(r), 1);
    pthread_attr_destroy(&at);
    munmap(stk, ssz);
    printf("threads on a 64 KiB stack and on a caller-mapped stack ran\n");

    /* 256 threads alive at once (128 KiB stacks), distinct tids */
    enum { NA = 256 };
    static pthread_t many[NA];
    CHECK_EQ(pthread_attr_init(&at), 0);
    CHECK_EQ(pthread_attr_setstacksize(&at, 128 * 1024), 0);
    int created = 0;
    for (int i = 0; i < NA; i++) {
        if (pthread_create(&many[i], &at, alive_thread, NULL) != 0)
            break;
        created++;
    }
    pthread_attr_destroy(&at);
    CHECK_EQ(created, NA);
    pthread_mutex_lock(&alive_lock);
    while (alive_count < created)
        pthread_cond_wait(&alive_cond, &alive_lock);
    alive_release = 1;
    pthread_cond_broadcast(&alive_cond);
    pthread_mutex_unlock(&alive_lock);
    static long tids[NA];
    for (int i = 0; i < created; i++) {
        CHECK_EQ(pthread_join(many[i], &r), 0);
        tids[i] = val(r);
    }
    int dup = 0;
    for (int i = 0; i < created; i++)
        for (int j = i + 1; j < created; j++)
            dup += tids[i] == tids[j];
    CHECK_EQ(dup, 0);
    printf("%d threads alive at once, distinct tids\n", created);
}

/* ------------------------------------------------------------ cancellation */

static pthread_mutex_t cm = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cc = PTHREAD_COND_INITIALIZER;
static int c_started, cleanup_ran;

static void cleanup_unlock(void *arg)
{
    cleanup_ran++;
    pthread_mutex_unlock(arg);
}

static void *cancel_condwait(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&cm);
    pthread_cleanup_push(cleanup_unlock, &cm);
    c_started = 1;
    pthread_cond_broadcast(&cc);
    for (;;)
        pthread_cond_wait(&cc, &cm); /* a cancellation point */
    pthread_cleanup_pop(1);
    return NULL;
}

static void cleanup_count(void *arg)
{
    (void)arg;
    __atomic_add_fetch(&cleanup_ran, 10, __ATOMIC_RELAXED);
}

static void *cancel_sleep(void *arg)
{
    (void)arg;
    pthread_cleanup_push(cleanup_count, NULL);
    pthread_mutex_lock(&cm);
    c_started = 1;
    pthread_cond_broadcast(&cc);
    pthread_mutex_unlock(&cm);
    sleep(100);
    pthread_cleanup_pop(0);
    return ptr(5);
}

static void *cancel_disabled(void *arg)
{
    (void)arg;
    int old;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
    pthread_mutex_lock(&cm);
    c_started = 1;
    pthread_cond_broadcast(&cc);
    while (c_started != 2)
        pthread_cond_wait(&cc, &cm); /* not cancelled here: disabled */
    pthread_mutex_unlock(&cm);
    usleep(1000);
    pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old);
    pthread_testcancel(); /* the pending request acts here */
    return ptr(6);
}

static void wait_started(void)
{
    pthread_mutex_lock(&cm);
    while (!c_started)
        pthread_cond_wait(&cc, &cm);
    pthread_mutex_unlock(&cm);
}

static void test_cancel(void)
{
    t_section("cancellation");
    pthread_t t;
    void *r = NULL;
    c_started = 0;
    cleanup_ran = 0;
    CHECK_EQ(pthread_create(&t, NULL, cancel_condwait, NULL), 0);
    wait_started();
    usleep(20000); /* let it block in pthread_cond_wait */
    CHECK_EQ(pthread_cancel(t), 0);
    CHECK_EQ(pthread_join(t, &r), 0);
    CHECK(r == PTHREAD_CANCELED);
    CHECK_EQ(cleanup_ran, 1);
    /* the cleanup handler released the mutex cond_wait had re-acquired */
    CHECK_EQ(pthread_mutex_trylock(&cm), 0);
    pthread_mutex_unlock(&cm);
    printf("cancelled in pthread_cond_wait: PTHREAD_CANCELED, cleanup ran, mutex released\n");

    c_started = 0;
    cleanup_ran = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_EQ(pthread_create(&t, NULL, cancel_sleep, NULL), 0);
    wait_started();
    usleep(20000);
    CHECK_EQ(pthread_cancel(t), 0);
    CHECK_EQ(pthread_join(t, &r), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK(r == PTHREAD_CANCELED);
    CHECK_EQ(cleanup_ran, 10);
    CHECK(t1.tv_sec - t0.tv_sec < 20);
    printf("cancelled in sleep(100): PTHREAD_CANCELED at once, cleanup ran\n");

    c_started = 0;
    CHECK_EQ(pthread_create(&t, NULL, cancel_disabled, NULL), 0);
    wait_started();
    CHECK_EQ(pthread_cancel(t), 0);
    pthread_mutex_lock(&cm);
    c_started = 2;
    pthread_cond_broadcast(&cc);
    pthread_mutex_unlock(&cm);
    CHECK_EQ(pthread_join(t, &r), 0);
    CHECK(r == PTHREAD_CANCELED);
    printf("cancel while disabled: acted on at pthread_testcancel\n");

    /* cancelling a thread that already finished is not an error */
    CHECK_EQ(pthread_create(&t, NULL, exit_thread, ptr(1)), 0);
    usleep(10000);
    CHECK_EQ(pthread_cancel(t), 0);
    CHECK_EQ(pthread_join(t, &r), 0);
}

/* ------------------------------------------------------------ futex */

/* <linux/futex.h> values (musl-gcc has no kernel headers) */
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define FUTEX_CMP_REQUEUE 4
#define FUTEX_WAKE_OP 5
#define FUTEX_WAIT_BITSET 9
#define FUTEX_PRIVATE_FLAG 128
#define FUTEX_CLOCK_REALTIME 256
#define FUTEX_WAIT_PRIVATE (FUTEX_WAIT | FUTEX_PRIVATE_FLAG)
#define FUTEX_WAKE_PRIVATE (FUTEX_WAKE | FUTEX_PRIVATE_FLAG)
#define FUTEX_CMP_REQUEUE_PRIVATE (FUTEX_CMP_REQUEUE | FUTEX_PRIVATE_FLAG)
#define FUTEX_WAKE_OP_PRIVATE (FUTEX_WAKE_OP | FUTEX_PRIVATE_FLAG)
#define FUTEX_WAIT_BITSET_PRIVATE (FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG)
#define FUTEX_BITSET_MATCH_ANY 0xffffffff
#ifndef FUTEX_WAIT_REQUEUE_PI_PRIVATE
#define FUTEX_WAIT_REQUEUE_PI_PRIVATE (11 | FUTEX_PRIVATE_FLAG)
#define FUTEX_CMP_REQUEUE_PI_PRIVATE (12 | FUTEX_PRIVATE_FLAG)
#endif
#ifndef FUTEX_LOCK_PI_PRIVATE
#define FUTEX_LOCK_PI_PRIVATE (6 | FUTEX_PRIVATE_FLAG)
#define FUTEX_UNLOCK_PI_PRIVATE (7 | FUTEX_PRIVATE_FLAG)
#endif
#define FUTEX_OP_ADD 1
#define FUTEX_OP_CMP_EQ 0
#define FUTEX_OP(op, oparg, cmp, cmparg) \
    ((((op) & 0xf) << 28) | (((cmp) & 0xf) << 24) | (((oparg) & 0xfff) << 12) | ((cmparg) & 0xfff))

static long futex(int *uaddr, int op, int v, const struct timespec *ts, int *uaddr2, int v3)
{
    return syscall(SYS_futex, uaddr, op, v, ts, uaddr2, v3);
}

static int fword, fword2;

/* requeue-PI: a condition word C and a PI lock word L, as glibc's PI condvars once used them */
static int rq_cond, rq_lock, rq_go, rq_done, rq_owned_on_return, rq_waiting, rq_late;

static void pi_lock(int *l)
{
    int tid = (int)syscall(SYS_gettid);
    int zero = 0;
    if (!__atomic_compare_exchange_n(l, &zero, tid, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        futex(l, FUTEX_LOCK_PI_PRIVATE, 0, NULL, NULL, 0);
}

static void pi_unlock(int *l)
{
    int tid = (int)syscall(SYS_gettid);
    if (!__atomic_compare_exchange_n(l, &tid, 0, 0, __ATOMIC_RELEASE, __ATOMIC_RELAXED))
        futex(l, FUTEX_UNLOCK_PI_PRIVATE, 0, NULL, NULL, 0);
}

static void *rq_waiter(void *arg)
{
    (void)arg;
    int tid = (int)syscall(SYS_gettid);
    pi_lock(&rq_lock);
    while (!rq_go) {
        int c = rq_cond;
        __atomic_add_fetch(&rq_waiting, 1, __ATOMIC_SEQ_CST);
        pi_unlock(&rq_lock);
        long r = futex(&rq_cond, FUTEX_WAIT_REQUEUE_PI_PRIVATE, c, NULL, &rq_lock, 0);
        __atomic_sub_fetch(&rq_waiting, 1, __ATOMIC_SEQ_CST);
        if (r == 0) {
            /* returned owning the lock */
            if ((__atomic_load_n(&rq_lock, __ATOMIC_SEQ_CST) & 0x3fffffff) == tid)
                __atomic_add_fetch(&rq_owned_on_return, 1, __ATOMIC_SEQ_CST);
        } else {
            /* EAGAIN: the word moved on before this thread slept */
            if (errno == EAGAIN)
                __atomic_add_fetch(&rq_late, 1, __ATOMIC_SEQ_CST);
            pi_lock(&rq_lock);
        }
    }
    rq_done++;
    pi_unlock(&rq_lock);
    return NULL;
}

/* a signal during WAIT_REQUEUE_PI */
static volatile int rqs_handled;
static int rqs_cond, rqs_lock;
static volatile long rqs_ret;
static volatile int rqs_errno;
static volatile pid_t rqs_tid;

static void rqs_handler(int sig)
{
    (void)sig;
    rqs_handled++;
}

static void *rqs_waiter(void *arg)
{
    (void)arg;
    rqs_tid = (pid_t)syscall(SYS_gettid);
    long r = futex(&rqs_cond, FUTEX_WAIT_REQUEUE_PI_PRIVATE, 0, NULL, &rqs_lock, 0);
    rqs_errno = errno;
    rqs_ret = r;
    return NULL;
}

static void *futex_waiter(void *arg)
{
    int *w = arg;
    while (__atomic_load_n(w, __ATOMIC_ACQUIRE) == 0)
        futex(w, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
    return NULL;
}

static void test_futex(void)
{
    t_section("futex");
    fword = 1;
    struct timespec ts = {0, 20 * 1000000L};
    CHECK_ERR(futex(&fword, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0), EAGAIN); /* value differs */
    CHECK_ERR(futex(&fword, FUTEX_WAIT_PRIVATE, 1, &ts, NULL, 0), ETIMEDOUT);
    CHECK_ERR(futex(&fword, FUTEX_WAIT, 1, &ts, NULL, 0), ETIMEDOUT);
    CHECK_EQ(futex(&fword, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0), 0);
    struct timespec abs;
    clock_gettime(CLOCK_MONOTONIC, &abs);
    abs.tv_nsec += 10 * 1000000L;
    if (abs.tv_nsec >= 1000000000L) {
        abs.tv_sec++;
        abs.tv_nsec -= 1000000000L;
    }
    CHECK_ERR(futex(&fword, FUTEX_WAIT_BITSET_PRIVATE, 1, &abs, NULL, FUTEX_BITSET_MATCH_ANY), ETIMEDOUT);
    clock_gettime(CLOCK_REALTIME, &abs);
    abs.tv_nsec += 10 * 1000000L;
    if (abs.tv_nsec >= 1000000000L) {
        abs.tv_sec++;
        abs.tv_nsec -= 1000000000L;
    }
    CHECK_ERR(futex(&fword, FUTEX_WAIT_BITSET_PRIVATE | FUTEX_CLOCK_REALTIME, 1, &abs, NULL,
                    FUTEX_BITSET_MATCH_ANY),
              ETIMEDOUT);
    CHECK_ERR(futex(&fword, FUTEX_WAIT_BITSET_PRIVATE, 1, &abs, NULL, 0), EINVAL); /* empty bitset */
    struct timespec badts = {0, 1000000000L};
    CHECK_ERR(futex(&fword, FUTEX_WAIT_PRIVATE, 1, &badts, NULL, 0), EINVAL);
    printf("FUTEX_WAIT: EAGAIN, ETIMEDOUT (relative, bitset monotonic and realtime), EINVAL; WAKE with no waiter: 0\n");

    /* wake a waiter */
    fword = 0;
    pthread_t t[4];
    CHECK_EQ(pthread_create(&t[0], NULL, futex_waiter, &fword), 0);
    usleep(20000);
    __atomic_store_n(&fword, 1, __ATOMIC_RELEASE);
    futex(&fword, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    CHECK_EQ(pthread_join(t[0], NULL), 0);

    /* CMP_REQUEUE: 4 waiters on fword, 1 woken, 3 moved to fword2 */
    fword = 0;
    fword2 = 0;
    for (int i = 0; i < 4; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, futex_waiter, &fword), 0);
    usleep(200000); /* all four are waiting (they re-check the word anyway) */
    CHECK_ERR(futex(&fword, FUTEX_CMP_REQUEUE_PRIVATE, 1, (void *)(intptr_t)3, &fword2, 1), EAGAIN);
    long n = futex(&fword, FUTEX_CMP_REQUEUE_PRIVATE, 1, (void *)(intptr_t)3, &fword2, 0);
    CHECK_EQ(n, 4); /* woken + requeued */
    /* the requeued ones are now on fword2: wake them there */
    __atomic_store_n(&fword, 1, __ATOMIC_RELEASE);
    n = futex(&fword2, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
    CHECK_EQ(n, 3);
    futex(&fword, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(pthread_join(t[i], NULL), 0);
    printf("FUTEX_CMP_REQUEUE: 1 woken + 3 requeued, 3 woken on the second word\n");

    /* WAKE_OP: fword2 += 1 and wake a waiter on fword */
    fword = 0;
    fword2 = 5;
    CHECK_EQ(pthread_create(&t[0], NULL, futex_waiter, &fword), 0);
    usleep(100000);
    __atomic_store_n(&fword, 1, __ATOMIC_RELEASE);
    n = futex(&fword, FUTEX_WAKE_OP_PRIVATE, 1, (void *)(intptr_t)1, &fword2,
              FUTEX_OP(FUTEX_OP_ADD, 1, FUTEX_OP_CMP_EQ, 5));
    CHECK_EQ(n, 1);
    CHECK_EQ(fword2, 6);
    CHECK_EQ(pthread_join(t[0], NULL), 0);
    printf("FUTEX_WAKE_OP: word2 5 -> 6, one waiter woken\n");

    /* WAIT_REQUEUE_PI / CMP_REQUEUE_PI: 4 waiters on the condition word are moved to the
     * PI lock in one call; each returns owning the lock. Round 0: the lock is held by the
     * requeuer (all are queued on it); round 1: it is free (the first takes it at once). */
    for (int round = 0; round < 2; round++) {
        rq_cond = rq_lock = rq_go = rq_done = rq_owned_on_return = rq_waiting = rq_late = 0;
        for (int i = 0; i < 4; i++)
            CHECK_EQ(pthread_create(&t[i], NULL, rq_waiter, NULL), 0);
        for (int i = 0; i < 2000 && __atomic_load_n(&rq_waiting, __ATOMIC_SEQ_CST) < 4; i++)
            usleep(1000);
        usleep(50000); /* the last one is inside the futex call */
        if (round == 0)
            pi_lock(&rq_lock);
        __atomic_store_n(&rq_go, 1, __ATOMIC_SEQ_CST);
        int cv = __atomic_add_fetch(&rq_cond, 1, __ATOMIC_SEQ_CST);
        CHECK_ERR(futex(&rq_cond, FUTEX_CMP_REQUEUE_PI_PRIVATE, 1, (void *)(intptr_t)INT_MAX, &rq_lock, cv + 1), EAGAIN);
        CHECK_ERR(futex(&rq_cond, FUTEX_CMP_REQUEUE_PI_PRIVATE, 2, (void *)(intptr_t)INT_MAX, &rq_lock, cv), EINVAL);
        n = futex(&rq_cond, FUTEX_CMP_REQUEUE_PI_PRIVATE, 1, (void *)(intptr_t)INT_MAX, &rq_lock, cv);
        CHECK(n >= 1 && n <= 4);
        if (round == 0) {
            /* held here: every waiter that was asleep is queued on it */
            CHECK(__atomic_load_n(&rq_lock, __ATOMIC_SEQ_CST) & 0x80000000); /* FUTEX_WAITERS */
            pi_unlock(&rq_lock);
        }
        for (int i = 0; i < 4; i++)
            CHECK_EQ(pthread_join(t[i], NULL), 0);
        CHECK_EQ(rq_done, 4);
        /* (a thread still on its way into the call when the word changed sees EAGAIN) */
        CHECK_EQ(n + rq_late, 4);
        CHECK_EQ(rq_owned_on_return, n);
        CHECK_EQ(rq_lock, 0);
    }
    printf("FUTEX_CMP_REQUEUE_PI: 4 waiters moved to a held and to a free PI lock, each returned owning it in turn\n");

    /* A signal with a handler (no SA_RESTART) while still on the condition word: the call
     * is restarted, the thread waits on. Once requeued to a held lock: the call ends with
     * EAGAIN, without the lock. */
    struct sigaction sa, old_sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = rqs_handler;
    CHECK_EQ(sigaction(SIGUSR2, &sa, &old_sa), 0);
    rqs_cond = rqs_lock = 0;
    rqs_handled = 0;
    rqs_ret = 1;
    rqs_tid = 0;
    CHECK_EQ(pthread_create(&t[0], NULL, rqs_waiter, NULL), 0);
    for (int i = 0; i < 2000 && !rqs_tid; i++)
        usleep(1000);
    usleep(50000); /* inside the call */
    CHECK_EQ(syscall(SYS_tgkill, getpid(), rqs_tid, SIGUSR2), 0);
    for (int i = 0; i < 2000 && rqs_handled < 1; i++)
        usleep(1000);
    usleep(50000);
    CHECK_EQ(rqs_handled, 1);
    CHECK_EQ(rqs_ret, 1); /* still waiting: restarted */
    pi_lock(&rqs_lock);
    __atomic_store_n(&rqs_cond, 1, __ATOMIC_SEQ_CST);
    CHECK_EQ(futex(&rqs_cond, FUTEX_CMP_REQUEUE_PI_PRIVATE, 1, (void *)(intptr_t)INT_MAX, &rqs_lock, 1), 1);
    usleep(50000);
    CHECK_EQ(rqs_ret, 1); /* waiting for the lock */
    CHECK_EQ(syscall(SYS_tgkill, getpid(), rqs_tid, SIGUSR2), 0);
    CHECK_EQ(pthread_join(t[0], NULL), 0);
    CHECK_EQ(rqs_handled, 2);
    CHECK_EQ(rqs_ret, -1);
    CHECK_EQ(rqs_errno, EAGAIN);
    CHECK_EQ(rqs_lock & 0x3fffffff, (int)syscall(SYS_gettid)); /* still the requeuer's */
    pi_unlock(&rqs_lock);
    CHECK_EQ(rqs_lock, 0);
    CHECK_EQ(sigaction(SIGUSR2, &old_sa, NULL), 0);
    printf("a signal in WAIT_REQUEUE_PI: before the requeue the wait is restarted; after it EAGAIN, lock not taken\n");
}

/* nice values are per thread on Linux: setpriority(PRIO_PROCESS, 0) changes the caller
 * only; a tid names one thread; new threads and children start with their creator's */
static int prio_base, prio_set;
static volatile pid_t prio_tid;
static pthread_barrier_t prio_bar;

static int nice_of(int which, int who)
{
    errno = 0;
    int v = getpriority(which, who);
    return errno ? -100 - errno : v;
}

static void *prio_thread(void *arg)
{
    (void)arg;
    prio_tid = (pid_t)syscall(SYS_gettid);
    CHECK_EQ(nice_of(PRIO_PROCESS, 0), prio_base); /* the creator's */
    CHECK_EQ(setpriority(PRIO_PROCESS, 0, prio_set), 0);
    CHECK_EQ(nice_of(PRIO_PROCESS, 0), prio_set);
    pthread_barrier_wait(&prio_bar); /* main checks this thread by tid */
    pthread_barrier_wait(&prio_bar);
    /* a child forked here starts with this thread's value, in its own group */
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int ok = nice_of(PRIO_PROCESS, 0) == prio_set && setpgid(0, 0) == 0 && nice_of(PRIO_PGRP, 0) == prio_set;
        _exit(ok ? 0 : 1);
    }
    int st = 0;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    return NULL;
}

static void test_priority(void)
{
    t_section("priorities");
    prio_base = nice_of(PRIO_PROCESS, 0);
    CHECK(prio_base >= -20 && prio_base <= 19);
    prio_set = prio_base + 5 > 19 ? 19 : prio_base + 5;
    CHECK_EQ(pthread_barrier_init(&prio_bar, NULL, 2), 0);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, prio_thread, NULL), 0);
    pthread_barrier_wait(&prio_bar);
    CHECK_EQ(nice_of(PRIO_PROCESS, 0), prio_base); /* the main thread is unchanged */
    CHECK_EQ(nice_of(PRIO_PROCESS, prio_tid), prio_set);
    CHECK_EQ(nice_of(PRIO_PROCESS, getpid()), prio_base);
    /* /proc/self/stat reports the main thread's: priority 20 + nice, then nice */
    char buf[1024] = {0};
    int fd = open("/proc/self/stat", O_RDONLY);
    CHECK(fd >= 0);
    CHECK(read(fd, buf, sizeof buf - 1) > 0);
    close(fd);
    char *p = strrchr(buf, ')');
    long prio = -1, nice = -1;
    if (p)
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %ld %ld", &prio, &nice);
    CHECK_EQ(nice, prio_base);
    CHECK_EQ(prio, 20 + prio_base);
    pthread_barrier_wait(&prio_bar);
    CHECK_EQ(pthread_join(t, NULL), 0);
    pthread_barrier_destroy(&prio_bar);
    /* a lower value needs privilege; bad arguments */
    if (geteuid() != 0 && prio_base > -20)
        CHECK_ERR(setpriority(PRIO_PROCESS, 0, prio_base - 1), EACCES);
    CHECK_EQ(nice_of(3, 0), -100 - EINVAL);
    CHECK_EQ(nice_of(PRIO_PROCESS, 999999), -100 - ESRCH);
    CHECK_ERR(setpriority(PRIO_PROCESS, 999999, 0), ESRCH);
    printf("nice per thread: a thread's setpriority leaves the main thread's, a tid names it, /proc/self/stat shows the main thread's, children and threads inherit\n");
}

int main(void)
{
    test_priority();
    test_robust_process();
    test_mutex();
    test_cond();
    test_sync();
    test_tls();
    test_create();
    test_cancel();
    test_futex();
    return t_finish("threads");
}
