/* The environment: prints the MYSTT_* variables it was given (sorted), and
 * checks getenv/setenv/unsetenv.  Other variables are ignored, so that a
 * runtime may add its own (myst adds nothing the test looks at). */
#include "t.h"

extern char **environ;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int main(int argc, char **argv, char **envp)
{
    (void)argc;
    (void)argv;
    CHECK(envp == environ);
    const char *mine[64];
    int n = 0;
    for (char **e = environ; *e; e++)
        if (strncmp(*e, "MYSTT_", 6) == 0 && n < 64)
            mine[n++] = *e;
    qsort(mine, (size_t)n, sizeof mine[0], cmp_str);
    printf("%d MYSTT_ variables\n", n);
    for (int i = 0; i < n; i++)
        printf("%s\n", mine[i]);

    const char *a = getenv("MYSTT_A");
    printf("getenv(MYSTT_A)=%s\n", a ? a : "(unset)");
    CHECK(getenv("MYSTT_SURELY_NOT_SET") == NULL);
    CHECK_EQ(setenv("MYSTT_NEW", "v1", 0), 0);
    CHECK(getenv("MYSTT_NEW") && strcmp(getenv("MYSTT_NEW"), "v1") == 0);
    CHECK_EQ(setenv("MYSTT_NEW", "v2", 0), 0); /* no overwrite */
    CHECK(strcmp(getenv("MYSTT_NEW"), "v1") == 0);
    CHECK_EQ(setenv("MYSTT_NEW", "v3", 1), 0);
    CHECK(strcmp(getenv("MYSTT_NEW"), "v3") == 0);
    CHECK_EQ(unsetenv("MYSTT_NEW"), 0);
    CHECK(getenv("MYSTT_NEW") == NULL);
    CHECK_ERR(setenv("BAD=NAME", "x", 1), EINVAL);
    return t_finish("envp");
}
