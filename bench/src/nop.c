/* Exec target for forkexec: exits 0 at once. */
int main(void)
{
    return 0;
}
