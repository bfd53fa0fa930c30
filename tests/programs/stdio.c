/* stdio on files: fopen/fprintf/fgets/fscanf/fseek/ftell/fread/fwrite,
 * line buffering, mkstemp and tmpfile. */
#include "t.h"

int main(void)
{
    t_mkdir("stdio");
    const char *f = t_path("lines.txt");
    FILE *fp = fopen(f, "w");
    CHECK(fp != NULL);
    for (int i = 0; i < 1000; i++)
        fprintf(fp, "line %d value %d\n", i, i * i);
    CHECK_EQ(fclose(fp), 0);

    fp = fopen(f, "r");
    CHECK(fp != NULL);
    char buf[128];
    int count = 0;
    long sum = 0;
    while (fgets(buf, sizeof buf, fp)) {
        int a, b;
        if (sscanf(buf, "line %d value %d", &a, &b) == 2)
            sum += b - a;
        count++;
    }
    printf("read %d lines, sum %ld\n", count, sum);
    CHECK_EQ(count, 1000);
    CHECK(feof(fp));
    CHECK_EQ(fseek(fp, 0, SEEK_END), 0);
    long size = ftell(fp);
    printf("size via ftell: %ld\n", size);
    CHECK_EQ(fseek(fp, -12, SEEK_END), 0);
    CHECK(fgets(buf, sizeof buf, fp) != NULL);
    printf("tail: %s", buf);
    rewind(fp);
    int a = -1, b = -1;
    CHECK_EQ(fscanf(fp, "line %d value %d", &a, &b), 2);
    CHECK(a == 0 && b == 0);
    CHECK_EQ(fclose(fp), 0);

    /* binary, read-write, append */
    fp = fopen(t_path("bin"), "w+b");
    double vals[100];
    for (int i = 0; i < 100; i++)
        vals[i] = i * 0.5;
    CHECK_EQ(fwrite(vals, sizeof vals[0], 100, fp), 100);
    CHECK_EQ(fseek(fp, 50 * (long)sizeof(double), SEEK_SET), 0);
    double v = 0;
    CHECK_EQ(fread(&v, sizeof v, 1, fp), 1);
    printf("vals[50]=%.1f\n", v);
    CHECK(v == 25.0);
    fclose(fp);
    fp = fopen(f, "a");
    fputs("appended\n", fp);
    fclose(fp);
    struct stat st;
    CHECK_EQ(stat(f, &st), 0);
    CHECK_EQ(st.st_size, size + 9);

    /* mkstemp and tmpfile */
    char tmpl[300];
    snprintf(tmpl, sizeof tmpl, "%s/tmpXXXXXX", t_dir);
    int fd = mkstemp(tmpl);
    CHECK(fd >= 0);
    CHECK(strncmp(tmpl, t_dir, strlen(t_dir)) == 0 && strstr(tmpl, "XXXXXX") == NULL);
    CHECK_EQ(write(fd, "tmp", 3), 3);
    close(fd);
    FILE *tf = tmpfile();
    CHECK(tf != NULL);
    if (tf) {
        fputs("temporary", tf);
        rewind(tf);
        char tb[32] = {0};
        CHECK(fgets(tb, sizeof tb, tf) != NULL);
        CHECK(strcmp(tb, "temporary") == 0);
        fclose(tf);
    }
    CHECK(fopen(t_path("missing"), "r") == NULL && errno == ENOENT);

    /* stdio output and write(2) interleave in program order once flushed */
    printf("buffered 1\n");
    fflush(stdout);
    CHECK_EQ(write(1, "raw write\n", 10), 10);
    printf("buffered 2\n");
    t_cleanup();
    return t_finish("stdio");
}
