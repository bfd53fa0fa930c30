/* Files in a host directory (argv[1]; under myst a directory rootfs or a
 * --mount of a host directory) used by several processes at once, as
 * databases use them:
 * - MAP_SHARED mappings: the mapping and read/write see each other's changes
 *   at once; processes that map the file on their own (not inherited through
 *   fork) share the pages, atomics included (what SQLite's -shm and LMDB rely
 *   on); ftruncate + mremap grow a mapping with more of the file; a page past
 *   the end of the file is SIGBUS; writes outlive munmap;
 * - open(O_CREAT) without O_EXCL never fails while other processes create and
 *   unlink the same name; an open file stays readable after another process
 *   unlinks and re-creates its name;
 * - 4 processes stat, open and read files in the directory at the same time. */
#include "t.h"
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define PG 4096

static char path[4096];
static sigjmp_buf bus_jmp;
static volatile int bus_code;

static void on_bus(int sig, siginfo_t *si, void *ctx)
{
    (void)sig;
    (void)ctx;
    bus_code = si->si_code;
    siglongjmp(bus_jmp, 1);
}

static char *map_file(int *fdp, size_t len)
{
    int fd = open(path, O_RDWR);
    CHECK(fd >= 0);
    char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(m != MAP_FAILED);
    if (fdp)
        *fdp = fd;
    else
        close(fd);
    return m;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        printf("usage: hostshare DIR\n");
        return 2;
    }
    snprintf(path, sizeof path, "%s/hostshare.dat", argv[1]);
    unlink(path);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    CHECK_EQ(ftruncate(fd, 16 * PG), 0);
    close(fd);

    t_section("coherence");
    char *m = map_file(&fd, 16 * PG);
    memcpy(m + 100, "hello", 5);
    char buf[16] = {0};
    CHECK_EQ(pread(fd, buf, 5, 100), 5);
    CHECK(memcmp(buf, "hello", 5) == 0);
    CHECK_EQ(pwrite(fd, "world", 5, 200), 5);
    CHECK(memcmp(m + 200, "world", 5) == 0);
    printf("a store through the mapping is read by pread; a pwrite shows in the mapping\n");

    t_section("processes");
    /* children forked before they map the file: nothing is inherited */
    int go[2], done[2];
    CHECK_EQ(pipe(go), 0);
    CHECK_EQ(pipe(done), 0);
    enum { KIDS = 4, ROUNDS = 20000 };
    pid_t kids[KIDS];
    fflush(stdout);
    for (int k = 0; k < KIDS; k++) {
        kids[k] = fork();
        if (kids[k] == 0) {
            char c;
            if (read(go[0], &c, 1) != 1)
                _exit(2);
            char *cm = map_file(NULL, 16 * PG);
            if (memcmp(cm + 100, "hello", 5) != 0)
                _exit(3); /* the parent's store */
            if (k == 0)
                memcpy(cm + 300, "child", 5);
            unsigned *ctr = (unsigned *)(cm + 2 * PG);
            for (int i = 0; i < ROUNDS; i++)
                __atomic_fetch_add(ctr, 1, __ATOMIC_SEQ_CST);
            if (write(done[1], "d", 1) != 1)
                _exit(4);
            _exit(0);
        }
    }
    unsigned *ctr = (unsigned *)(m + 2 * PG);
    for (int i = 0; i < ROUNDS; i++)
        __atomic_fetch_add(ctr, 1, __ATOMIC_SEQ_CST);
    CHECK_EQ(write(go[1], "gggg", KIDS), KIDS);
    for (int k = 0; k < KIDS; k++) {
        char c;
        CHECK_EQ(read(done[0], &c, 1), 1);
    }
    for (int k = 0; k < KIDS; k++) {
        int st;
        CHECK_EQ(waitpid(kids[k], &st, 0), kids[k]);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    CHECK(memcmp(m + 300, "child", 5) == 0);
    CHECK_EQ(__atomic_load_n(ctr, __ATOMIC_SEQ_CST), (KIDS + 1) * ROUNDS);
    printf("%d processes that mapped the file themselves: stores seen both ways, %d atomic increments all counted\n",
           KIDS + 1, (KIDS + 1) * ROUNDS);
    close(go[0]);
    close(go[1]);
    close(done[0]);
    close(done[1]);

    t_section("growing");
    CHECK_EQ(ftruncate(fd, 24 * PG), 0);
    char *m2 = mremap(m, 16 * PG, 24 * PG, MREMAP_MAYMOVE);
    CHECK(m2 != MAP_FAILED);
    if (m2 != MAP_FAILED)
        m = m2;
    CHECK(memcmp(m + 100, "hello", 5) == 0);
    memcpy(m + 20 * PG, "grown", 5);
    memset(buf, 0, sizeof buf);
    CHECK_EQ(pread(fd, buf, 5, 20 * PG), 5);
    CHECK(memcmp(buf, "grown", 5) == 0);
    CHECK_EQ(msync(m, 24 * PG, MS_SYNC), 0);
    printf("ftruncate + mremap: the new pages are the file's\n");

    t_section("past the end");
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_bus;
    sa.sa_flags = SA_SIGINFO;
    CHECK_EQ(sigaction(SIGBUS, &sa, &old), 0);
    char *m3 = mmap(NULL, 32 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(m3 != MAP_FAILED);
    bus_code = 0;
    volatile char got = 0;
    if (sigsetjmp(bus_jmp, 1) == 0) {
        got = m3[28 * PG]; /* the file has 24 pages */
        printf("FAIL no SIGBUS past the end of the file\n");
        t_failures++;
    }
    (void)got;
    CHECK_EQ(bus_code, BUS_ADRERR);
    CHECK_EQ(sigaction(SIGBUS, &old, NULL), 0);
    CHECK_EQ(munmap(m3, 32 * PG), 0);
    printf("a page past the end of the file: SIGBUS (BUS_ADRERR)\n");

    t_section("after munmap");
    memcpy(m + 5 * PG, "kept", 4);
    CHECK_EQ(munmap(m, 24 * PG), 0);
    close(fd);
    fd = open(path, O_RDONLY);
    CHECK(fd >= 0);
    memset(buf, 0, sizeof buf);
    CHECK_EQ(pread(fd, buf, 4, 5 * PG), 4);
    CHECK(memcmp(buf, "kept", 4) == 0);
    struct stat st;
    CHECK_EQ(fstat(fd, &st), 0);
    CHECK_EQ(st.st_size, 24 * PG);
    close(fd);
    CHECK_EQ(unlink(path), 0);
    printf("stores are in the file after munmap and close\n");

    t_section("create and unlink races");
    char name[4096];
    snprintf(name, sizeof name, "%s/hostshare.race", argv[1]);
    enum { RACERS = 4, OPENS = 300 };
    pid_t racers[RACERS];
    fflush(stdout);
    for (int k = 0; k < RACERS; k++) {
        racers[k] = fork();
        if (racers[k] == 0) {
            int bad = 0;
            for (int i = 0; i < OPENS; i++) {
                int f = open(name, O_RDWR | O_CREAT, 0644);
                if (f < 0) {
                    if (!bad++)
                        printf("FAIL open(O_CREAT): %s\n", t_errname(errno));
                    continue;
                }
                if (write(f, "x", 1) != 1 && !bad++)
                    printf("FAIL write: %s\n", t_errname(errno));
                close(f);
                if (i % 3 == k % 3)
                    unlink(name); /* ENOENT when another got there first: fine */
            }
            fflush(stdout);
            _exit(bad ? 1 : 0);
        }
    }
    for (int k = 0; k < RACERS; k++) {
        int st2;
        CHECK_EQ(waitpid(racers[k], &st2, 0), racers[k]);
        CHECK(WIFEXITED(st2) && WEXITSTATUS(st2) == 0);
    }
    unlink(name);
    /* an open file keeps its contents when its name is unlinked and re-created */
    int a = open(name, O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(a >= 0);
    CHECK_EQ(write(a, "first", 5), 5);
    pid_t pid = fork();
    if (pid == 0) {
        if (unlink(name) != 0)
            _exit(1);
        int b = open(name, O_RDWR | O_CREAT | O_EXCL, 0644);
        if (b < 0 || write(b, "second!", 7) != 7)
            _exit(2);
        close(b);
        _exit(0);
    }
    int st3;
    CHECK_EQ(waitpid(pid, &st3, 0), pid);
    CHECK(WIFEXITED(st3) && WEXITSTATUS(st3) == 0);
    memset(buf, 0, sizeof buf);
    CHECK_EQ(pread(a, buf, sizeof buf, 0), 5);
    CHECK(memcmp(buf, "first", 5) == 0);
    close(a);
    a = open(name, O_RDONLY);
    CHECK(a >= 0);
    memset(buf, 0, sizeof buf);
    CHECK_EQ(read(a, buf, sizeof buf), 7);
    close(a);
    CHECK_EQ(unlink(name), 0);
    printf("%d processes x %d open(O_CREAT) while names are unlinked: none fails; an open file outlives its name\n", RACERS, OPENS);

    t_section("busy directory");
    enum { BUSY = 4, ROUNDS2 = 2000 };
    pid_t busy[BUSY];
    fflush(stdout);
    for (int k = 0; k < BUSY; k++) {
        busy[k] = fork();
        if (busy[k] == 0) {
            char own[4096];
            snprintf(own, sizeof own, "%s/hostshare.busy%d", argv[1], k);
            int f = open(own, O_RDWR | O_CREAT | O_TRUNC, 0644);
            if (f < 0 || write(f, "busy", 4) != 4)
                _exit(1);
            close(f);
            for (int i = 0; i < ROUNDS2; i++) {
                struct stat s2;
                char b2[8];
                if (stat(argv[1], &s2) != 0 || stat(own, &s2) != 0 || s2.st_size != 4)
                    _exit(2);
                f = open(own, O_RDONLY);
                if (f < 0 || read(f, b2, sizeof b2) != 4)
                    _exit(3);
                close(f);
            }
            unlink(own);
            _exit(0);
        }
    }
    for (int k = 0; k < BUSY; k++) {
        int st4;
        CHECK_EQ(waitpid(busy[k], &st4, 0), busy[k]);
        CHECK(WIFEXITED(st4) && WEXITSTATUS(st4) == 0);
    }
    printf("%d processes x %d stat+open+read in one directory at once: all done\n", BUSY, ROUNDS2);
    return t_finish("hostshare");
}
