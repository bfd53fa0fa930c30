/* Killed by SIGSEGV from a NULL dereference: Linux reports 128+11 = 139. */
#include <stdio.h>

int main(void)
{
    /* loaded through a volatile, so the compiler cannot turn it into a trap */
    volatile int *volatile p = NULL;
    printf("about to dereference NULL\n");
    fflush(stdout);
    *p = 42;
    printf("still alive?!\n");
    return 0;
}
