/* Killed by SIGABRT: Linux reports 128+6 = 134. Output written before the
 * abort (and flushed) must appear. */
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    printf("about to abort\n");
    fflush(stdout);
    abort();
}
