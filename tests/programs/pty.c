/* Pseudo-terminals and the N_TTY line discipline: posix_openpt, grantpt,
 * unlockpt, ptsname, TIOCGPTN and the locked slave (EIO); the default termios
 * and window size (TIOCSWINSZ on the master, TIOCGWINSZ on the slave);
 * output processing (ONLCR); canonical input with erase, EOF and kill and
 * their exact echo (ECHO, ECHOE, ECHOKE); ICRNL; raw mode (cfmakeraw, no
 * echo, no output processing, VMIN=0/VTIME=0); the controlling terminal of a
 * new session (open without O_NOCTTY, TIOCSCTTY, tcsetpgrp) and the signal
 * characters (^C kills with SIGINT and echoes "^C", a handler makes read()
 * fail with EINTR, ^\ kills with SIGQUIT); job control (SIGTTIN, SIGTTOU with
 * TOSTOP, EIO); hang-up when either side closes.
 *
 * Children report through their exit status (and print FAIL lines, flushed
 * before _exit). */
#include "t.h"
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <termios.h>

#ifndef TIOCGPTN
#define TIOCGPTN _IOR('T', 0x30, unsigned int)
#endif
#ifndef TIOCSCTTY
#define TIOCSCTTY 0x540E
#endif

/* Print bytes with C escapes (for FAIL lines and fixed outputs). */
static void put_escaped(const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)b[i];
        if (c == '\n')
            printf("\\n");
        else if (c == '\r')
            printf("\\r");
        else if (c == '\b')
            printf("\\b");
        else if (c == '\\' || c == '"')
            printf("\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            printf("\\x%02x", c);
        else
            putchar(c);
    }
}

/* Check that got[0..n) is exactly want[0..wn). */
static void check_bytes(int line, const char *got, long n, const char *want, size_t wn)
{
    t_checks++;
    if (n < 0 || (size_t)n != wn || memcmp(got, want, wn) != 0) {
        printf("FAIL %s:%d: got \"", __FILE__, line);
        if (n > 0)
            put_escaped(got, (size_t)n);
        printf("\" (%ld bytes), want \"", n);
        put_escaped(want, wn);
        printf("\"\n");
        t_failures++;
    }
}
/* want must be a string literal. */
#define CHECK_BYTES(got, n, want) check_bytes(__LINE__, (got), (n), (want), sizeof(want) - 1)

/* Read until want bytes arrived or no data came for timeout_ms; returns the
 * count (or -1 if a read failed before anything arrived). */
static long read_upto(int fd, char *buf, size_t want, int timeout_ms)
{
    size_t got = 0;
    while (got < want) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, timeout_ms) != 1)
            break;
        ssize_t n = read(fd, buf + got, want - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return got ? (long)got : (long)n;
        got += (size_t)n;
    }
    return (long)got;
}

/* Wait (long) for fd to become readable, then do one read(). */
static long read_once(int fd, char *buf, size_t size)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    if (poll(&p, 1, 2000) != 1)
        return -2;
    return read(fd, buf, size);
}

/* Nothing arrives on fd within 100 ms. */
static int quiet(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    return poll(&p, 1, 100) == 0;
}

static int master, slave;
static char slave_path[64];


static volatile sig_atomic_t got_sigint;
static void on_sigint(int sig)
{
    (void)sig;
    got_sigint = 1;
}

/* A session leader with the slave as its controlling terminal, blocked in
 * read() on it.  With handler set, SIGINT is caught (no SA_RESTART) and the
 * child exits 7 when read() failed with EINTR after the handler ran. */
static void ctty_child(int ready_fd, int handler)
{
    struct rlimit nocore = { 0, 0 };
    CHECK_EQ(setrlimit(RLIMIT_CORE, &nocore), 0); /* SIGQUIT: no core file */
    close(master);
    CHECK(setsid() == getpid());
    int fd = open(slave_path, O_RDWR); /* no O_NOCTTY: becomes the ctty */
    CHECK(fd >= 0);
    CHECK_EQ(ioctl(fd, TIOCSCTTY, 0), 0); /* already ours: succeeds */
    CHECK_EQ(tcsetpgrp(fd, getpid()), 0);
    CHECK_EQ(tcgetpgrp(fd), getpid());
    CHECK_EQ(tcgetsid(fd), getpid());
    if (handler) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_sigint;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = 0;
        CHECK_EQ(sigaction(SIGINT, &sa, NULL), 0);
    }
    if (t_failures > t_child_base)
        t_child_exit(1);
    CHECK_EQ(write(ready_fd, "r", 1), 1);
    char buf[100];
    errno = 0;
    ssize_t n = read(fd, buf, sizeof buf);
    int e = errno;
    if (handler && n == -1 && e == EINTR && got_sigint)
        t_child_exit(7);
    printf("FAIL child read returned %ld (errno %s, handler ran %d)\n", (long)n,
           t_errname(e), (int)got_sigint);
    t_child_exit(1);
}

/* Job control, in a session leader that has the slave as its controlling
 * terminal and is the foreground group: a child in a background group that
 * reads the terminal is stopped by SIGTTIN; with SIGTTIN ignored its read
 * fails with EIO; a background write goes through, unless TOSTOP is set: then
 * SIGTTOU stops the writer. Returns through the exit status: 0 when all hold,
 * else the number of the first check that failed (10 + n). */
static int bg_child(int fd, int mode)
{
    pid_t gc = fork();
    if (gc == 0) {
        if (setpgid(0, 0) != 0)
            _exit(2);
        char b[8];
        if (mode == 0) {
            ssize_t r = read(fd, b, sizeof b); /* stopped here */
            _exit(r >= 0 ? 3 : 4);
        }
        if (mode == 1) {
            signal(SIGTTIN, SIG_IGN);
            ssize_t r = read(fd, b, sizeof b);
            _exit(r == -1 && errno == EIO ? 0 : 5);
        }
        if (mode == 2)
            _exit(write(fd, "bg\n", 3) == 3 ? 0 : 6);
        ssize_t r = write(fd, "bg\n", 3); /* mode 3, TOSTOP: stopped here */
        _exit(r == 3 ? 7 : 8);
    }
    setpgid(gc, gc);
    int st = 0;
    if (waitpid(gc, &st, WUNTRACED) != gc)
        return 20;
    if (mode == 0 || mode == 3) {
        int want = mode == 0 ? SIGTTIN : SIGTTOU;
        if (!WIFSTOPPED(st) || WSTOPSIG(st) != want)
            return 21;
        kill(gc, SIGKILL);
        if (waitpid(gc, &st, 0) != gc || !WIFSIGNALED(st))
            return 22;
        return 0;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 23;
}

static void job_child(void)
{
    close(master);
    if (setsid() != getpid())
        _exit(30);
    int fd = open(slave_path, O_RDWR);
    if (fd < 0 || tcsetpgrp(fd, getpid()) != 0)
        _exit(31);
    for (int mode = 0; mode < 4; mode++) {
        if (mode == 3) {
            struct termios tt;
            tcgetattr(fd, &tt);
            tt.c_lflag |= TOSTOP;
            tcsetattr(fd, TCSANOW, &tt);
        }
        int r = bg_child(fd, mode);
        if (r != 0)
            _exit(40 + mode * 10 + (r % 10));
    }
    _exit(0);
}

/* Fork a ctty_child, wait until it is ready, type c on the master (again
 * every 2 s if needed: a signal that came before read() began is not lost
 * for the outcome) and return its wait status and the master's echo. */
static int run_signal_child(int handler, char c, char *echo, long *echo_len)
{
    int pp[2];
    CHECK_EQ(pipe(pp), 0);
    CHECK_EQ(tcflush(master, TCIOFLUSH), 0);
    pid_t pid = t_fork();
    if (pid == 0) {
        close(pp[0]);
        ctty_child(pp[1], handler);
    }
    CHECK(pid > 0);
    close(pp[1]);
    char r = 0;
    CHECK_EQ(read_upto(pp[0], &r, 1, 10000), 1);
    CHECK_EQ(r, 'r');
    close(pp[0]);
    usleep(100000);
    int st = -1, wrote = 1;
    for (int tries = 0; tries < 5 && st == -1; tries++) {
        if (write(master, &c, 1) != 1)
            wrote = 0;
        for (int i = 0; i < 200; i++) {
            int s;
            pid_t w = waitpid(pid, &s, WNOHANG);
            if (w == pid) {
                st = s;
                break;
            }
            usleep(10000);
        }
    }
    CHECK(wrote);
    if (st == -1) {
        printf("FAIL child did not end\n");
        t_failures++;
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    /* The echo: read until "^C"/"^\" is seen or nothing comes for 2 s. */
    long n = 0;
    char want[3] = { '^', (char)(c + '@'), 0 };
    while (n < 60) {
        long k = read_upto(master, echo + n, 1, 2000);
        if (k <= 0)
            break;
        n += k;
        if (memmem(echo, (size_t)n, want, 2))
            break;
    }
    *echo_len = n;
    return st;
}

int main(void)
{
    char buf[256];
    long n;

    t_section("open");
    master = posix_openpt(O_RDWR | O_NOCTTY);
    CHECK(master >= 0);
    CHECK_EQ(grantpt(master), 0);
    CHECK_EQ(unlockpt(master), 0);
    CHECK_EQ(ptsname_r(master, slave_path, sizeof slave_path), 0);
    CHECK_EQ(strncmp(slave_path, "/dev/pts/", 9), 0);
    char *end = NULL;
    unsigned long num = strtoul(slave_path + 9, &end, 10);
    CHECK(end != slave_path + 9 && *end == 0);
    unsigned int ptn = 12345;
    CHECK_EQ(ioctl(master, TIOCGPTN, &ptn), 0);
    CHECK_EQ(ptn, num);
    slave = open(slave_path, O_RDWR | O_NOCTTY);
    CHECK(slave >= 0);
    CHECK_EQ(isatty(slave), 1);
    CHECK_EQ(isatty(master), 1);
    int locked = posix_openpt(O_RDWR | O_NOCTTY);
    CHECK(locked >= 0);
    char locked_path[64];
    CHECK_EQ(ptsname_r(locked, locked_path, sizeof locked_path), 0);
    CHECK(strcmp(locked_path, slave_path) != 0);
    CHECK_ERR(open(locked_path, O_RDWR | O_NOCTTY), EIO);
    CHECK_EQ(close(locked), 0);
    printf("open: slave is /dev/pts/<TIOCGPTN>, both ends are ttys, locked slave: EIO\n");

    t_section("defaults");
    struct termios orig, tm;
    CHECK_EQ(tcgetattr(slave, &orig), 0);
    CHECK(orig.c_lflag & ICANON);
    CHECK(orig.c_lflag & ECHO);
    CHECK(orig.c_lflag & ECHOE);
    CHECK(orig.c_lflag & ISIG);
    CHECK(orig.c_iflag & ICRNL);
    CHECK(orig.c_oflag & OPOST);
    CHECK(orig.c_oflag & ONLCR);
    CHECK_EQ(orig.c_cc[VINTR], 3);
    CHECK_EQ(orig.c_cc[VEOF], 4);
    CHECK_EQ(orig.c_cc[VERASE], 0x7f);
    CHECK_EQ(orig.c_cc[VKILL], 0x15);
    CHECK_EQ(tcgetattr(master, &tm), 0);
    CHECK_EQ(tm.c_lflag, orig.c_lflag);
    CHECK_EQ(tm.c_iflag, orig.c_iflag);
    CHECK_EQ(tm.c_oflag, orig.c_oflag);
    struct winsize ws = { .ws_row = 33, .ws_col = 101 };
    CHECK_EQ(ioctl(master, TIOCSWINSZ, &ws), 0);
    memset(&ws, 0, sizeof ws);
    CHECK_EQ(ioctl(slave, TIOCGWINSZ, &ws), 0);
    CHECK_EQ(ws.ws_row, 33);
    CHECK_EQ(ws.ws_col, 101);
    printf("defaults: ICANON ECHO ECHOE ISIG ICRNL OPOST ONLCR, ^C ^D DEL ^U, "
           "master sees slave termios, winsize %dx%d\n", ws.ws_row, ws.ws_col);

    t_section("output");
    CHECK_EQ(write(slave, "hi\nthere\n", 9), 9);
    n = read_upto(master, buf, 11, 2000);
    CHECK_BYTES(buf, n, "hi\r\nthere\r\n");
    CHECK(quiet(master));
    printf("output: \"hi\\nthere\\n\" reaches the master as \"");
    put_escaped(buf, n > 0 ? (size_t)n : 0);
    printf("\"\n");

    t_section("canonical input");
    CHECK_EQ(write(master, "abc\x7f" "d\n", 6), 6);
    n = read_once(slave, buf, 100);
    CHECK_BYTES(buf, n, "abd\n");
    n = read_upto(master, buf, 10, 2000);
    CHECK_BYTES(buf, n, "abc\b \bd\r\n");
    CHECK(quiet(master));
    CHECK_EQ(write(master, "xyz", 3), 3);
    CHECK(quiet(slave));
    CHECK_EQ(write(master, "\x04", 1), 1);
    n = read_once(slave, buf, 100);
    CHECK_BYTES(buf, n, "xyz");
    CHECK_EQ(write(master, "\x04", 1), 1);
    n = read_once(slave, buf, 100);
    CHECK_EQ(n, 0);
    n = read_upto(master, buf, 3, 2000);
    CHECK_BYTES(buf, n, "xyz");
    CHECK(quiet(master));
    CHECK_EQ(write(master, "junk\x15ok\n", 8), 8);
    n = read_once(slave, buf, 100);
    CHECK_BYTES(buf, n, "ok\n");
    n = read_upto(master, buf, 24, 2000);
    CHECK_BYTES(buf, n, "junk\b \b\b \b\b \b\b \bok\r\n");
    CHECK(quiet(master));
    printf("canonical input: erase, EOF (line without it, then read 0), kill; "
           "echo \"abc\\b \\bd\\r\\n\", \"xyz\", \"junk\" + 4x\"\\b \\b\" + \"ok\\r\\n\"\n");

    t_section("CR to NL");
    CHECK_EQ(write(master, "line\r", 5), 5);
    n = read_once(slave, buf, 100);
    CHECK_BYTES(buf, n, "line\n");
    n = read_upto(master, buf, 6, 2000);
    CHECK_BYTES(buf, n, "line\r\n");
    CHECK(quiet(master));
    printf("CR to NL: \"line\\r\" is read as \"line\\n\", echoed as \"line\\r\\n\"\n");

    t_section("raw");
    struct termios raw = orig;
    cfmakeraw(&raw);
    CHECK_EQ(tcsetattr(slave, TCSANOW, &raw), 0);
    CHECK_EQ(tcgetattr(master, &tm), 0);
    CHECK_EQ(tm.c_lflag & (ICANON | ECHO), 0);
    CHECK_EQ(write(master, "a\rb\x03\x7f", 5), 5);
    n = read_upto(slave, buf, 5, 2000);
    CHECK_BYTES(buf, n, "a\rb\x03\x7f");
    CHECK(quiet(master));
    CHECK_EQ(write(slave, "x\n", 2), 2);
    n = read_upto(master, buf, 2, 2000);
    CHECK_BYTES(buf, n, "x\n");
    CHECK(quiet(master));
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    CHECK_EQ(tcsetattr(slave, TCSANOW, &raw), 0);
    CHECK_EQ(read(slave, buf, sizeof buf), 0);
    CHECK_EQ(tcsetattr(slave, TCSANOW, &orig), 0);
    CHECK_EQ(tcgetattr(slave, &tm), 0);
    CHECK(tm.c_lflag & ICANON);
    CHECK(tm.c_lflag & ECHO);
    printf("raw: input passes unchanged without echo, output unprocessed, "
           "VMIN=0 read gives 0, restored\n");

    t_section("signals");
    char echo[64];
    long elen;
    int st;
    /* ^C kills; ^C with a handler: read fails with EINTR (exit 7); ^\ kills */
    const struct { int handler; char c; int sig; } sig_cases[] = {
        {0, '\x03', SIGINT}, {1, '\x03', 0}, {0, '\x1c', SIGQUIT}};
    for (size_t i = 0; i < sizeof sig_cases / sizeof sig_cases[0]; i++) {
        st = run_signal_child(sig_cases[i].handler, sig_cases[i].c, echo, &elen);
        if (sig_cases[i].sig) {
            CHECK(WIFSIGNALED(st));
            CHECK_EQ(WTERMSIG(st), sig_cases[i].sig);
        } else {
            CHECK(WIFEXITED(st));
            CHECK_EQ(WEXITSTATUS(st), 7);
        }
        const char want[2] = {'^', (char)(sig_cases[i].c + '@')}; /* ECHOCTL */
        CHECK(elen >= 2 && memmem(echo, (size_t)elen, want, 2) != NULL);
    }
    printf("signals: ^C kills with SIGINT (echo ^C), handler gets EINTR, "
           "^\\ kills with SIGQUIT (echo ^\\)\n");

    t_section("job control");
    CHECK_EQ(tcflush(master, TCIOFLUSH), 0);
    fflush(stdout);
    pid_t jc = fork();
    if (jc == 0)
        job_child();
    st = -1;
    CHECK_EQ(waitpid(jc, &st, 0), jc);
    CHECK(WIFEXITED(st));
    CHECK_EQ(WEXITSTATUS(st), 0);
    CHECK_EQ(tcflush(master, TCIOFLUSH), 0);
    printf("job control: a background reader is stopped by SIGTTIN (EIO when it ignores it); "
           "a background writer goes on, or with TOSTOP is stopped by SIGTTOU\n");

    t_section("hangup");
    CHECK_EQ(tcflush(slave, TCIOFLUSH), 0);
    CHECK_EQ(close(master), 0);
    CHECK_EQ(read(slave, buf, sizeof buf), 0);
    CHECK_ERR(write(slave, "z", 1), EIO);
    CHECK_EQ(close(slave), 0);
    master = posix_openpt(O_RDWR | O_NOCTTY);
    CHECK(master >= 0);
    CHECK_EQ(grantpt(master), 0);
    CHECK_EQ(unlockpt(master), 0);
    CHECK_EQ(ptsname_r(master, slave_path, sizeof slave_path), 0);
    slave = open(slave_path, O_RDWR | O_NOCTTY);
    CHECK(slave >= 0);
    CHECK_EQ(close(slave), 0);
    CHECK_ERR(read(master, buf, sizeof buf), EIO);
    CHECK_EQ(close(master), 0);
    printf("hangup: master closed: slave read 0, write EIO; "
           "slave closed: master read EIO\n");

    return t_finish("pty");
}
