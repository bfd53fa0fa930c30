/* libm and number formatting: links libm dynamically in the glibc builds. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    (void)argv;
    volatile double two = 2.0 + (argc > 100); /* keep the compiler from folding */
    printf("sqrt(2)=%.12f\n", sqrt(two));
    printf("pow(2,0.5)=%.12f\n", pow(two, 0.5));
    printf("exp(1)=%.12f log(10)=%.12f\n", exp(two / 2), log(two * 5));
    printf("sin(1)=%.9f cos(1)=%.9f tan(1)=%.9f\n", sin(two / 2), cos(two / 2), tan(two / 2));
    printf("atan2(1,2)=%.9f hypot(3,4)=%.9f\n", atan2(two / 2, two), hypot(two + 1, two * 2));
    printf("floor(-2.5)=%g ceil(-2.5)=%g round(2.5)=%g trunc(-2.7)=%g\n", floor(-two - 0.5),
           ceil(-two - 0.5), round(two + 0.5), trunc(-two - 0.7));
    printf("fmod(10,3)=%g cbrt(27)=%.9f\n", fmod(two * 5, 3), cbrt(two * 13.5));
    printf("inf=%f nan=%f -0=%g\n", (double)INFINITY, (double)NAN, -0.0 * two);
    printf("1e300*1e300=%g 1/3=%.17g\n", 1e300 * (two * 5e299), 1 / (two + 1));
    printf("%%e=%e %%a=%a\n", 123456.789 * (two / 2), 1.0 * (two / 2));
    double xs[16];
    for (int i = 0; i < 16; i++)
        xs[i] = sin(i * 1.7) * 100;
    qsort(xs, 16, sizeof xs[0], cmp_double);
    printf("sorted:");
    for (int i = 0; i < 16; i++)
        printf(" %.3f", xs[i]);
    printf("\n");
    printf("strtod=%.6f atoi=%d strtol(hex)=%ld\n", strtod("3.14159abc", NULL), atoi("-42"),
           strtol("0x7fff", NULL, 16));
    double sum = 0;
    for (int i = 1; i <= 1000000; i++)
        sum += 1.0 / ((double)i * i);
    int ok = fabs(sum - M_PI * M_PI / 6) < 1e-5;
    printf("basel sum close to pi^2/6: %s\n", ok ? "yes" : "no");
    return ok ? 0 : 1;
}
