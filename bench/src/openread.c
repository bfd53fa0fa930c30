/* open/read/close loop on a small file: prints ns per iteration.
 *   openread FILE [N]   (default 100000) */
#include "common.h"
#include <fcntl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: openread FILE [N]\n");
        return 2;
    }
    long n = arg_count(argc, argv, 2, 100000);
    char buf[4096];
    long total = 0;
    double t0 = now_ns();
    for (long i = 0; i < n; i++) {
        int fd = open(argv[1], O_RDONLY);
        if (fd < 0) {
            perror("open");
            return 1;
        }
        ssize_t r = read(fd, buf, sizeof buf);
        if (r <= 0) {
            perror("read");
            return 1;
        }
        total += r;
        close(fd);
    }
    double t1 = now_ns();
    if (total <= 0)
        return 1;
    printf("%.1f\n", (t1 - t0) / (double)n);
    return 0;
}
