#!/usr/bin/env bash
# Benchmarks: each figure natively and under myst, measured in the same run,
# with the ratio.  No figure is a test: a case that myst cannot run prints
# "n/a (error)" and the script goes on.
#
#   MYST=target/release/myst bench/run.sh
#
# Environment:
#   MYST        the myst binary (default: target/release/myst)
#   MYST_FLAGS  extra options for `myst exec-linux`, before the rootfs
#   RUNS        hyperfine runs per startup figure (default 30)
#   REPEAT      repetitions of each in-process figure; the median is kept (default 3)
#
# Under myst the programs run from a directory rootfs (hostfs) built in
# bench/out/rootfs.  The table is also written to bench/out/latest.txt.
set -u -o pipefail
ulimit -c 0

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(dirname "$HERE")
MYST=${MYST:-$REPO/target/release/myst}
MYST_FLAGS=${MYST_FLAGS:-}
RUNS=${RUNS:-30}
REPEAT=${REPEAT:-3}
OUT=$HERE/out
ROOTFS=$OUT/rootfs
BIGFILE=/tmp/myst-bench-100m.bin
SMALL_N=${SMALL_N:-100000}
GETPPID_N=${GETPPID_N:-1000000}

if [[ $MYST == */* ]]; then
    if [ -e "$MYST" ]; then MYST=$(cd "$(dirname "$MYST")" && pwd -P)/$(basename "$MYST"); fi
else
    MYST=$(command -v "$MYST" || echo "$MYST")
fi

for t in gcc hyperfine readelf; do
    command -v $t >/dev/null || {
        echo "bench: missing $t (run tests/install-deps.sh)" >&2
        exit 2
    }
done
[ -x /bin/busybox ] || {
    echo "bench: no /bin/busybox (install busybox-static)" >&2
    exit 2
}

mkdir -p "$OUT"
LOG=$OUT/log.txt
: >"$LOG"

# ---------------------------------------------------------------- build
rm -rf "$ROOTFS"
mkdir -p "$ROOTFS/bench" "$ROOTFS/bin" "$ROOTFS/tmp"
chmod 1777 "$ROOTFS/tmp"
CF=(-O2 -Wall -Wextra -Werror)
build() { # name src extra-flags...
    local name=$1 src=$2
    shift 2
    gcc "${CF[@]}" "$@" -o "$ROOTFS/bench/$name" "$HERE/src/$src" >>"$LOG" 2>&1 || {
        echo "bench: building $name failed, see $LOG" >&2
        exit 2
    }
}
build getppid getppid.c
build openread openread.c
build readfile readfile.c
build hello-dyn hello.c
build hello-static hello.c -static
cp /bin/busybox "$ROOTFS/bin/busybox"
ln -s busybox "$ROOTFS/bin/sh"

for f in "$ROOTFS"/bench/*; do
    readelf -l "$f" | grep -q "Requesting program interpreter" || continue
    while read -r lib; do
        [ -e "$ROOTFS$lib" ] && continue
        mkdir -p "$ROOTFS$(dirname "$lib")"
        cp -L "$lib" "$ROOTFS$lib"
    done < <(ldd "$f" | grep -o '/[^ ]*')
done

# the small file, and the 100 MB file in /tmp (also visible in the rootfs's /tmp)
head -c 200 /etc/os-release >"$ROOTFS/bench/small.txt" 2>/dev/null || printf '%0200d' 0 >"$ROOTFS/bench/small.txt"
if [ ! -f "$BIGFILE" ] || [ "$(stat -c %s "$BIGFILE")" != 100000000 ]; then
    head -c 100000000 /dev/urandom >"$BIGFILE"
fi
ln "$BIGFILE" "$ROOTFS$BIGFILE" 2>/dev/null || cp "$BIGFILE" "$ROOTFS$BIGFILE"
cleanup() { rm -f "$BIGFILE" "$ROOTFS$BIGFILE"; }
trap cleanup EXIT

# ---------------------------------------------------------------- helpers
native_cmd() { # path-in-rootfs args... -> the native command line
    local p=$1
    shift
    printf '%q ' "$ROOTFS$p" "$@"
}
myst_cmd() {
    # shellcheck disable=SC2086
    printf '%q ' "$MYST" exec-linux $MYST_FLAGS "$ROOTFS" "$@"
}

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) exit 1; print a[int((NR + 1) / 2)] }'; }

# inproc CMDLINE: runs it REPEAT times; prints the median of the numbers it
# printed, or nothing if any run failed.
inproc() {
    local cmd=$1 i v vals=()
    for ((i = 0; i < REPEAT; i++)); do
        v=$(cd / && eval "timeout -k 5 600 $cmd" 2>>"$LOG" </dev/null) || {
            echo "failed: $cmd" >>"$LOG"
            return
        }
        [[ $v =~ ^[0-9]+(\.[0-9]+)?$ ]] || {
            echo "bad output from $cmd: $v" >>"$LOG"
            return
        }
        vals+=("$v")
    done
    printf '%s\n' "${vals[@]}" | median
}

# startup CMDLINE: hyperfine -N; prints "mean_ms stddev_ms" or nothing.
startup() {
    local cmd=$1 csv=$OUT/hyperfine.csv
    rm -f "$csv"
    (cd / && hyperfine -N --warmup 3 --runs "$RUNS" --export-csv "$csv" "$cmd") >>"$LOG" 2>&1 </dev/null || {
        echo "failed: $cmd" >>"$LOG"
        return
    }
    awk -F, 'NR == 2 { printf "%.3f %.3f\n", $2 * 1000, $3 * 1000 }' "$csv"
}

# ---------------------------------------------------------------- report
TABLE=()
row() { TABLE+=("$(printf '%-34s %16s %16s %12s' "$@")"); echo "${TABLE[-1]}"; }

# ratio NATIVE MYST DIRECTION: slowdown factor (>1 means myst is slower).
# DIRECTION is "time" (lower is better) or "rate" (higher is better).
ratio() {
    local n=$1 m=$2 d=$3
    if [ -z "$n" ] || [ -z "$m" ]; then
        echo "n/a"
        return
    fi
    awk -v n="$n" -v m="$m" -v d="$d" 'BEGIN {
        if (n <= 0 || m <= 0) { print "n/a"; exit }
        r = (d == "time") ? m / n : n / m
        printf "%.2fx\n", r }'
}
fmt() { if [ -n "$1" ]; then echo "$1"; else echo "n/a (error)"; fi; }

HEAD=()
HEAD+=("myst benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC')")
HEAD+=("machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), kernel $(uname -r)")
rev=$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null) || rev="(no commit)"
HEAD+=("myst: $MYST${MYST_FLAGS:+ $MYST_FLAGS} at $rev; rootfs: directory (hostfs) $ROOTFS")
[ -x "$MYST" ] || HEAD+=("warning: $MYST is not an executable file")
HEAD+=("in-process figures: median of $REPEAT runs; startup: hyperfine -N, $RUNS runs, mean ± stddev")
HEAD+=("slowdown = myst cost / native cost (for MB/s: native / myst); > 1 means myst is slower")
HEAD+=("")
printf '%s\n' "${HEAD[@]}"
row "benchmark" "native" "myst" "slowdown"
row "---------" "------" "----" "--------"

n=$(inproc "$(native_cmd /bench/getppid "$GETPPID_N")")
m=$(inproc "$(myst_cmd /bench/getppid "$GETPPID_N")")
row "getppid (ns/call)" "$(fmt "$n")" "$(fmt "$m")" "$(ratio "$n" "$m" time)"

n=$(inproc "$(native_cmd /bench/openread "$ROOTFS/bench/small.txt" "$SMALL_N")")
m=$(inproc "$(myst_cmd /bench/openread /bench/small.txt "$SMALL_N")")
row "open/read/close small (ns/iter)" "$(fmt "$n")" "$(fmt "$m")" "$(ratio "$n" "$m" time)"

cat "$BIGFILE" >/dev/null # into the page cache for both
n=$(inproc "$(native_cmd /bench/readfile "$BIGFILE")")
m=$(inproc "$(myst_cmd /bench/readfile "$BIGFILE")")
row "read 100 MB file (MB/s)" "$(fmt "$n")" "$(fmt "$m")" "$(ratio "$n" "$m" rate)"

startup_row() { # label path-in-rootfs args...
    local label=$1
    shift
    local ns ms n m
    ns=$(startup "$(native_cmd "$@")")
    ms=$(startup "$(myst_cmd "$@")")
    n=${ns%% *} m=${ms%% *}
    row "$label" "$(fmt "${ns:+$n ± ${ns#* }}")" "$(fmt "${ms:+$m ± ${ms#* }}")" "$(ratio "$n" "$m" time)"
}
startup_row "startup: static hello (ms)" /bench/hello-static
startup_row "startup: dynamic hello (ms)" /bench/hello-dyn
startup_row "startup: busybox sh -c true (ms)" /bin/busybox sh -c true

{
    printf '%s\n' "${HEAD[@]}"
    printf '%s\n' "${TABLE[@]}"
} >"$OUT/latest.txt"
echo
echo "written to $OUT/latest.txt (details of failures in $LOG)"
