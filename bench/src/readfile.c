/* Reads a whole file with 1 MiB reads: prints MB/s (10^6 bytes/s).
 *   readfile FILE */
#include "common.h"
#include <fcntl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: readfile FILE\n");
        return 2;
    }
    static char buf[1 << 20];
    double t0 = now_ns();
    int fd = open(argv[1], O_RDONLY);
    if (fd < 0) {
        perror("open");
        return 1;
    }
    long long total = 0;
    unsigned sum = 0;
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0) {
            perror("read");
            return 1;
        }
        if (r == 0)
            break;
        sum += (unsigned char)buf[r - 1];
        total += r;
    }
    close(fd);
    double t1 = now_ns();
    if (total == 0 || sum == 0xffffffffu)
        return 1;
    printf("%.1f\n", (double)total / 1e6 / ((t1 - t0) / 1e9));
    return 0;
}
