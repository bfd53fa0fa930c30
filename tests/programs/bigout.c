/* Large output: exactly 1 MiB on stdout (16384 lines of 64 bytes), in a
 * mix of stdio and raw write(2) calls, then a checksum on stderr. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
    unsigned sum = 0;
    char line[65];
    for (int i = 0; i < 16384; i++) {
        int n = snprintf(line, sizeof line, "%05d ", i);
        for (; n < 63; n++)
            line[n] = (char)('a' + (i + n) % 26);
        line[63] = '\n';
        line[64] = 0;
        for (int k = 0; k < 64; k++)
            sum = sum * 31 + (unsigned char)line[k];
        if (i < 8192) {
            fputs(line, stdout);
        } else {
            if (i == 8192)
                fflush(stdout);
            /* raw writes of the second half, in a few odd chunk sizes */
            const char *p = line;
            size_t left = 64;
            while (left > 0) {
                size_t chunk = left > (size_t)(i % 7 + 5) ? (size_t)(i % 7 + 5) : left;
                ssize_t w = write(1, p, chunk);
                if (w <= 0)
                    return 1;
                p += w;
                left -= (size_t)w;
            }
        }
    }
    fprintf(stderr, "bigout: 1048576 bytes, checksum %08x\n", sum);
    return 0;
}
