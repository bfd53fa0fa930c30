/* Address space versus memory: programs reserve far more address space than
 * they use (glibc reserves 64 MiB per malloc arena, runtimes reserve GiBs
 * PROT_NONE), and that must work as on Linux.
 *
 *   memlimit          the compatibility checks (same output natively and under myst)
 *   memlimit hog MAX  touch 1 MiB blocks until malloc fails or MAX MiB are in use;
 *                     prints how far it got (the limit test runs it under myst with a
 *                     small --memory-size) */
#include "t.h"
#include <pthread.h>
#include <sys/mman.h>

#define NTHREADS 32

static void *arena_user(void *arg)
{
    /* a big enough first allocation in a new thread makes glibc give the
     * thread its own arena (a 64 MiB reservation) */
    size_t n = 1 << 20;
    unsigned char *p = malloc(n);
    if (!p)
        return (void *)1;
    memset(p, (int)(intptr_t)arg, n);
    long bad = 0;
    for (size_t i = 0; i < n; i += 4096)
        bad += p[i] != (unsigned char)(intptr_t)arg;
    free(p);
    return (void *)(intptr_t)(bad != 0);
}

static int hog(long max_mib)
{
    long got = 0;
    while (got < max_mib) {
        unsigned char *p = malloc(1 << 20);
        if (!p) {
            printf("malloc failed (%s) after %ld MiB\n", errno == ENOMEM ? "ENOMEM" : strerror(errno), got);
            return 0;
        }
        memset(p, 0x5a, 1 << 20);
        got++;
    }
    printf("no failure up to %ld MiB\n", got);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "hog") == 0)
        return hog(atol(argv[2]));

    t_section("threads with their own malloc arenas");
    pthread_t th[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        CHECK_EQ(pthread_create(&th[i], NULL, arena_user, (void *)(intptr_t)(i + 1)), 0);
    int failed = 0;
    for (int i = 0; i < NTHREADS; i++) {
        void *r = NULL;
        CHECK_EQ(pthread_join(th[i], &r), 0);
        failed += r != NULL;
    }
    CHECK_EQ(failed, 0);
    printf("%d threads, each with 1 MiB of its own, all live at once\n", NTHREADS);

    t_section("reserved address space");
    size_t big = (size_t)8 << 30;
    unsigned char *r = mmap(NULL, big, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    CHECK(r != MAP_FAILED);
    if (r != MAP_FAILED) {
        /* commit a few pieces of it, scattered over the reservation */
        for (int i = 0; i < 8; i++) {
            unsigned char *piece = r + (size_t)i * (1 << 30);
            CHECK_EQ(mprotect(piece, 1 << 20, PROT_READ | PROT_WRITE), 0);
            memset(piece, i, 1 << 20);
        }
        long bad = 0;
        for (int i = 0; i < 8; i++)
            bad += r[(size_t)i * (1 << 30) + 12345] != i;
        CHECK_EQ(bad, 0);
        CHECK_EQ(munmap(r, big), 0);
        printf("8 GiB reserved PROT_NONE, 8 scattered MiB committed and used, released\n");
    }
    return t_finish("memlimit");
}
