#!/usr/bin/env bash
# Builds myst, makes an application directory from a small C program and Debian's own
# `ls`, and runs both under the myst kernel.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p myst
MYST=$PWD/target/release/myst
APP=$(mktemp -d /tmp/myst-demo.XXXXXX)
cat > "$APP/hello.c" <<'C'
#include <stdio.h>
#include <sys/utsname.h>
int main(int argc, char **argv) {
    struct utsname u;
    uname(&u);
    printf("hello from %s, running on %s %s\n", argv[0], u.sysname, u.release);
    return 0;
}
C
mkdir -p "$APP/root/bin"
cc -O2 -o "$APP/root/bin/hello" "$APP/hello.c"
"$MYST" appdir "$APP/root" "$APP/root/bin/hello" /bin/ls > /dev/null
echo "+ myst exec-linux $APP/root /bin/hello"
"$MYST" exec-linux "$APP/root" /bin/hello
echo "+ myst exec-linux $APP/root /bin/ls -l /bin"
"$MYST" exec-linux "$APP/root" /bin/ls -l /bin
