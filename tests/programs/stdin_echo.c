/* Copies standard input to standard output with read/write, then reports
 * the byte and line counts on stderr. */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

int main(void)
{
    static char buf[7001]; /* an odd size, on purpose */
    long total = 0, lines = 0;
    unsigned sum = 0;
    for (;;) {
        ssize_t n = read(0, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("read");
            return 1;
        }
        if (n == 0)
            break;
        for (ssize_t i = 0; i < n; i++) {
            lines += buf[i] == '\n';
            sum = sum * 31 + (unsigned char)buf[i];
        }
        total += n;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(1, buf + off, (size_t)(n - off));
            if (w <= 0) {
                perror("write");
                return 1;
            }
            off += w;
        }
    }
    fprintf(stderr, "stdin_echo: %ld bytes, %ld lines, checksum %08x\n", total, lines, sum);
    return 0;
}
