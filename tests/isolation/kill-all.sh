#!/usr/bin/env bash
# A program under myst that sends SIGKILL to "every process" (kill(-1, SIGKILL)) must only
# reach its own processes. Run in a fresh pid namespace with a host process watching: the
# watcher must survive, and the myst run must end.
#   MYST=target/release/myst tests/isolation/kill-all.sh ROOTFS
set -euo pipefail
MYST=${MYST:-target/release/myst}
ROOTFS=${1:?usage: kill-all.sh ROOTFS (with /bin/busybox)}
MYST=$(realpath "$MYST")
ROOTFS=$(realpath "$ROOTFS")
if ! unshare -Urpf --mount-proc true 2>/dev/null; then
    echo "SKIP kill-all: cannot create a pid namespace here"
    exit 0
fi
out=$(unshare -Urpf --mount-proc bash -c '
    sleep 30 & watcher=$!
    timeout 20 "$0" exec-linux "$1" /bin/busybox sh -c "sleep 5 & kill -9 -1; echo caller-survives" ; st=$?
    if kill -0 $watcher 2>/dev/null; then echo "watcher alive, myst status $st"; kill $watcher; else echo "watcher KILLED, myst status $st"; fi
' "$MYST" "$ROOTFS" 2>&1 || true)
echo "$out"
if grep -q "watcher alive, myst status 0" <<<"$out" && grep -q "^caller-survives$" <<<"$out"; then
    echo "PASS kill-all: kill(-1, SIGKILL) reached only the application's processes"
else
    echo "FAIL kill-all"
    exit 1
fi
