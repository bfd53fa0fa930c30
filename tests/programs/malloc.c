/* The C heap: many malloc/calloc/realloc/free of varied sizes (brk and
 * mmap backed), aligned allocations, and one 100 MiB block. */
#include "t.h"

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

#define SLOTS 512

int main(void)
{
    t_section("random malloc/realloc/free");
    unsigned char *p[SLOTS] = {0};
    size_t sz[SLOTS] = {0};
    long ops = 0, bad = 0;
    for (int round = 0; round < 50000; round++) {
        int i = (int)(next_rand() % SLOTS);
        if (p[i]) {
            for (size_t k = 0; k < sz[i]; k += 97)
                bad += p[i][k] != (unsigned char)(i + k);
            if (next_rand() % 2) {
                free(p[i]);
                p[i] = NULL;
                continue;
            }
            size_t nsz = (size_t)(next_rand() % (next_rand() % 8 == 0 ? 300000 : 2000)) + 1;
            unsigned char *q = realloc(p[i], nsz);
            CHECK(q != NULL);
            size_t keep = nsz < sz[i] ? nsz : sz[i];
            for (size_t k = 0; k < keep; k += 97)
                bad += q[k] != (unsigned char)(i + k);
            p[i] = q;
            sz[i] = nsz;
        } else {
            sz[i] = (size_t)(next_rand() % (next_rand() % 16 == 0 ? 500000 : 1000)) + 1;
            p[i] = next_rand() % 4 ? malloc(sz[i]) : calloc(1, sz[i]);
            CHECK(p[i] != NULL);
        }
        for (size_t k = 0; k < sz[i]; k++)
            p[i][k] = (unsigned char)(i + k);
        ops++;
    }
    for (int i = 0; i < SLOTS; i++)
        free(p[i]);
    printf("%ld operations, %ld corrupted bytes\n", ops, bad);
    CHECK_EQ(bad, 0);

    t_section("calloc/aligned");
    unsigned char *z = calloc(1000, 1000);
    CHECK(z != NULL);
    long nz = 0;
    for (long k = 0; z && k < 1000000; k++)
        nz += z[k] != 0;
    CHECK_EQ(nz, 0);
    free(z);
    void *al = NULL;
    CHECK_EQ(posix_memalign(&al, 4096, 10000), 0);
    CHECK(((uintptr_t)al & 4095) == 0);
    free(al);
    al = aligned_alloc(64, 640);
    CHECK(al != NULL && ((uintptr_t)al & 63) == 0);
    free(al);
    CHECK(malloc((size_t)-1 / 2) == NULL && errno == ENOMEM);

    t_section("100 MiB block");
    size_t big = 100u << 20;
    unsigned char *b = malloc(big);
    CHECK(b != NULL);
    if (b) {
        for (size_t k = 0; k < big; k += 4096)
            b[k] = (unsigned char)(k >> 12);
        unsigned long s = 0;
        for (size_t k = 0; k < big; k += 4096)
            s += b[k];
        printf("big block checksum %lu\n", s);
        free(b);
    }
    return t_finish("malloc");
}
