#!/usr/bin/env bash
# Thread and signal stress, natively and under myst (not a timed test: the
# durations only bound each run; see threads-stress.c for what is checked).
#
#   MYST=target/release/myst tests/stress/threads-stress.sh
#
# Environment:
#   MYST            the myst binary (default: target/release/myst)
#   STRESS_SECONDS  duration of the condvar test (default 10)
#   STRESS_THREADS  threads in the condvar test (default 64)
#   STRESS_SIGNALS  signals sent in the storm (default 10000)
#   STRESS_FLAVOURS C flavours to build and run (default "static musl";
#                   also: glibc, i.e. dynamic)
#   NATIVE_ONLY=1   run only the native halves
#
# Builds into tests/build/stress/ (a rootfs of its own), prints one PASS/FAIL
# line per run with the program's report, exits non-zero if a run failed.
set -u -o pipefail
ulimit -c 0

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(dirname "$(dirname "$HERE")")
MYST=${MYST:-$REPO/target/release/myst}
SECS=${STRESS_SECONDS:-10}
THREADS=${STRESS_THREADS:-64}
NSIG=${STRESS_SIGNALS:-10000}
FLAVOURS=${STRESS_FLAVOURS:-static musl}
NATIVE_ONLY=${NATIVE_ONLY:-0}
B=$REPO/tests/build/stress
ROOT=$B/rootfs
if [[ $MYST == */* ]] && [ -e "$MYST" ]; then MYST=$(cd "$(dirname "$MYST")" && pwd -P)/$(basename "$MYST"); fi

rm -rf "$ROOT"
mkdir -p "$ROOT/tmp" "$ROOT/bin"
FAIL=0
PASS=0
for fl in $FLAVOURS; do
    case $fl in
    glibc) cc="gcc -O2" ;;
    static) cc="gcc -O2 -static" ;;
    musl) cc="musl-gcc -O2 -static" ;;
    *) echo "unknown flavour $fl" >&2; exit 2 ;;
    esac
    # shellcheck disable=SC2086
    if ! $cc -Wall -Wextra -Werror -o "$ROOT/bin/threads-stress-$fl" "$HERE/threads-stress.c"; then
        echo "FAIL build $fl"
        FAIL=$((FAIL + 1))
        continue
    fi
    if [ "$fl" = glibc ]; then
        # the loader and libraries, at the same paths
        while read -r lib; do
            mkdir -p "$ROOT$(dirname "$lib")"
            cp -L "$lib" "$ROOT$lib"
        done < <(ldd "$ROOT/bin/threads-stress-$fl" | grep -o '/[^ ]*')
    fi
done

# run NAME TIMEOUT CMD...
run() {
    local name=$1 limit=$2
    shift 2
    local out rc
    out=$(timeout -k 5 "$limit" "$@" 2>&1)
    rc=$?
    if [ $rc = 0 ] && ! grep -q '^FAIL' <<<"$out"; then
        PASS=$((PASS + 1))
        echo "PASS $name"
    else
        FAIL=$((FAIL + 1))
        [ $rc = 124 ] && out+=$'\n'"(timed out after ${limit}s: deadlock?)"
        echo "FAIL $name (exit $rc)"
    fi
    sed 's/^/    /' <<<"$out" | head -n 20
}

for fl in $FLAVOURS; do
    p=/bin/threads-stress-$fl
    [ -x "$ROOT$p" ] || continue
    run "native/$fl/condvar" $((SECS * 3 + 30)) "$ROOT$p" condvar "$SECS" "$THREADS"
    run "native/$fl/storm" 120 "$ROOT$p" storm "$NSIG"
    [ "$NATIVE_ONLY" = 1 ] && continue
    run "myst/$fl/condvar" $((SECS * 3 + 60)) "$MYST" exec-linux "$ROOT" "$p" condvar "$SECS" "$THREADS"
    run "myst/$fl/storm" 180 "$MYST" exec-linux "$ROOT" "$p" storm "$NSIG"
done
echo
echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
