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
#   BUDGET      seconds each time-budgeted program measures for (default 0.5)
#   FIND_RUNS   hyperfine runs of each `find / | wc -l` figure (default 5)
#   EXT2_MB     size of the file read through verity (+ LUKS) (default 256)
#   FIND_FILES  files in the `find` tree (default 20000)
#
# Under myst the programs run from a directory rootfs (hostfs) built in
# bench/out/rootfs; the trusted-file-system figures run from ext2 images
# built with `myst mkext2` in bench/out/ext2 (removed at exit, as is the big
# file).  The table is also written to bench/out/latest.txt.
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
BUDGET=${BUDGET:-0.5}
FIND_RUNS=${FIND_RUNS:-5}
EXT2_MB=${EXT2_MB:-256}
FIND_FILES=${FIND_FILES:-20000}
EXT2=$OUT/ext2

if [[ $MYST == */* ]]; then
    if [ -e "$MYST" ]; then MYST=$(cd "$(dirname "$MYST")" && pwd -P)/$(basename "$MYST"); fi
else
    MYST=$(command -v "$MYST" || echo "$MYST")
fi

for t in gcc hyperfine readelf python3; do
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
build clock clock.c
build openread openread.c
build readfile readfile.c
build hello-dyn hello.c
build hello-static hello.c -static
build futexwake futexwake.c
build threads threads.c -pthread
build sigraise sigraise.c
build condpingpong condpingpong.c -pthread
build forkwait forkwait.c
build forkexec forkexec.c
build nop-static nop.c -static
build pipethru pipethru.c
build readfile-static readfile.c -static
build tcp tcp.c
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
cleanup() { rm -rf "$BIGFILE" "$ROOTFS$BIGFILE" "$EXT2"; }
trap cleanup EXIT

# ext2 images: a verity image and a verity+LUKS image holding one EXT2_MB MiB
# random file and a static readfile; a verity image of a tree of FIND_FILES
# small files with busybox (that tree, as a directory, is also the hostfs
# case, and what the native `find` walks).
rm -rf "$EXT2"
mkdir -p "$EXT2/big/bench" "$EXT2/find/bin"
cp "$ROOTFS/bench/readfile-static" "$EXT2/big/bench/readfile"
head -c $((EXT2_MB << 20)) /dev/urandom >"$EXT2/big/big.bin"
head -c 64 /dev/urandom >"$EXT2/key"
cp /bin/busybox "$EXT2/find/bin/busybox"
ln -s busybox "$EXT2/find/bin/sh"
python3 - "$EXT2/find/tree" "$FIND_FILES" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, "d%03d" % (i % 200), "e%d" % (i % 10))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%05d" % i), "wb") as f:
        f.write(b"x" * (i % 97))
PY
mkimage() { # image dir mkext2-options...
    local img=$1 dir=$2
    shift 2
    "$MYST" mkext2 -q -f "$@" "$dir" "$img" >>"$LOG" 2>&1 || {
        echo "failed: myst mkext2 $* $dir $img" >>"$LOG"
        rm -f "$img"
    }
}
mkimage "$EXT2/verity.img" "$EXT2/big"
mkimage "$EXT2/luks.img" "$EXT2/big" --encrypt="$EXT2/key"
mkimage "$EXT2/find.img" "$EXT2/find"

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
myst_opts() { # exec-linux-options... ROOTFS PROGRAM ARGS...
    # shellcheck disable=SC2086
    printf '%q ' "$MYST" exec-linux $MYST_FLAGS "$@"
}
# roothash IMAGE: its root hash, or "none" (the myst run then fails: n/a)
roothash() { "$MYST" fssig --roothash "$1" 2>>"$LOG" || echo none; }

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

# startup CMDLINE [RUNS [WARMUP]]: hyperfine -N; prints "mean_ms stddev_ms" or nothing.
startup() {
    local cmd=$1 runs=${2:-$RUNS} warmup=${3:-3} csv=$OUT/hyperfine.csv
    rm -f "$csv"
    (cd / && hyperfine -N --warmup "$warmup" --runs "$runs" --export-csv "$csv" "$cmd") >>"$LOG" 2>&1 </dev/null || {
        echo "failed: $cmd" >>"$LOG"
        return
    }
    awk -F, 'NR == 2 { printf "%.3f %.3f\n", $2 * 1000, $3 * 1000 }' "$csv"
}

# ---------------------------------------------------------------- report
TABLE=()
row() { TABLE+=("$(printf '%-44s %18s %18s %10s' "$@")"); echo "${TABLE[-1]}"; }
section() { TABLE+=("" "$1"); printf '\n%s\n' "$1"; }

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
HEAD+=("in-process figures: median of $REPEAT runs (time-budgeted programs measure ${BUDGET} s each)")
HEAD+=("startup: hyperfine -N, $RUNS runs, mean ± stddev; find: busybox sh -c 'find DIR | wc -l', hyperfine -N,")
HEAD+=("  $FIND_RUNS runs, mean ± stddev of the whole run (under myst: includes myst's startup)")
HEAD+=("ext2: images from \`myst mkext2\` run with --roothash (LUKS1 aes-xts-plain64 with --key); page")
HEAD+=("  cache warm for the images and for the source file/tree that the native side reads/walks")
HEAD+=("slowdown = myst cost / native cost (for MB/s: native / myst); > 1 means myst is slower")
HEAD+=("")
printf '%s\n' "${HEAD[@]}"
row "benchmark" "native" "myst" "slowdown"
row "---------" "------" "----" "--------"

# inproc_row LABEL DIRECTION PATH-IN-ROOTFS ARGS...: the same program and
# arguments natively and under myst.
inproc_row() {
    local label=$1 dir=$2 n m
    shift 2
    n=$(inproc "$(native_cmd "$@")")
    m=$(inproc "$(myst_cmd "$@")")
    row "$label" "$(fmt "$n")" "$(fmt "$m")" "$(ratio "$n" "$m" "$dir")"
}

section "system calls and files (hostfs rootfs)"
n=$(inproc "$(native_cmd /bench/getppid "$GETPPID_N")")
m=$(inproc "$(myst_cmd /bench/getppid "$GETPPID_N")")
row "getppid (ns/call)" "$(fmt "$n")" "$(fmt "$m")" "$(ratio "$n" "$m" time)"

n=$(inproc "$(native_cmd /bench/clock "$GETPPID_N")")
m=$(inproc "$(myst_cmd /bench/clock "$GETPPID_N")")
row "clock_gettime via libc (ns/call)" "$(fmt "$n")" "$(fmt "$m")" "$(ratio "$n" "$m" time)"

n=$(inproc "$(native_cmd /bench/openread "$ROOTFS/bench/small.txt" "$SMALL_N")")
m=$(inproc "$(myst_cmd /bench/openread /bench/small.txt "$SMALL_N")")
row "open/read/close small (ns/iter)" "$(fmt "$n")" "$(fmt "$m")" "$(ratio "$n" "$m" time)"

cat "$BIGFILE" >/dev/null # into the page cache for both
n=$(inproc "$(native_cmd /bench/readfile "$BIGFILE")")
m=$(inproc "$(myst_cmd /bench/readfile "$BIGFILE")")
row "read 100 MB file (MB/s)" "$(fmt "$n")" "$(fmt "$m")" "$(ratio "$n" "$m" rate)"

section "threads, futexes, signals"
inproc_row "futex wake, no waiters (ns/call)" time /bench/futexwake "$BUDGET"
inproc_row "thread create+join (us/pair)" time /bench/threads "$BUDGET"
inproc_row "raise(SIGUSR1) to a handler (ns)" time /bench/sigraise "$BUDGET"
inproc_row "pthread_cond ping-pong (us/round trip)" time /bench/condpingpong "$BUDGET"

section "processes"
inproc_row "fork+exit+wait (us)" time /bench/forkwait "$BUDGET"
n=$(inproc "$(native_cmd /bench/forkexec "$ROOTFS/bench/nop-static" "$BUDGET")")
m=$(inproc "$(myst_cmd /bench/forkexec /bench/nop-static "$BUDGET")")
row "fork+exec(static)+wait (us)" "$(fmt "$n")" "$(fmt "$m")" "$(ratio "$n" "$m" time)"
inproc_row "pipe between 2 processes (MB/s)" rate /bench/pipethru "$BUDGET"

section "networking: TCP over loopback between 2 processes (host sockets under myst)"
inproc_row "TCP 1-byte round trip (us)" time /bench/tcp rr "$BUDGET"
inproc_row "TCP connect+accept+close (us)" time /bench/tcp conn "$BUDGET"
inproc_row "TCP stream, 64 KiB writes (MB/s)" rate /bench/tcp stream "$BUDGET"

section "trusted file systems: ext2 images (native: the source file/tree)"
VH=$(roothash "$EXT2/verity.img")
LH=$(roothash "$EXT2/luks.img")
FH=$(roothash "$EXT2/find.img")
cat "$EXT2"/*.img "$EXT2/big/big.bin" >/dev/null 2>&1 # page cache warm for both sides
n=$(inproc "$(native_cmd /bench/readfile "$EXT2/big/big.bin")")
m=$(inproc "$(myst_opts --roothash "$VH" "$EXT2/verity.img" /bench/readfile /big.bin)")
row "read ${EXT2_MB} MiB file, verity (MB/s)" "$(fmt "$n")" "$(fmt "$m")" "$(ratio "$n" "$m" rate)"
m=$(inproc "$(myst_opts --roothash "$LH" --key "$EXT2/key" "$EXT2/luks.img" /bench/readfile /big.bin)")
row "read ${EXT2_MB} MiB file, verity+LUKS (MB/s)" "$(fmt "$n")" "$(fmt "$m")" "$(ratio "$n" "$m" rate)"

# find_row LABEL MYST-CMDLINE: `find | wc -l` timed with hyperfine, natively
# over the tree's directory and under myst over `/`; the myst count must be
# at least the native one (it adds /proc, /dev...), else the case is an error.
NATIVE_FIND=$(printf '%q ' "$EXT2/find/bin/busybox" sh -c "find $EXT2/find | wc -l")
NATIVE_COUNT=$(eval "$NATIVE_FIND" 2>>"$LOG")
NATIVE_FIND_T=$(startup "$NATIVE_FIND" "$FIND_RUNS" 1)
echo "native find: $NATIVE_COUNT entries" >>"$LOG"
find_row() {
    local label=$1 cmd=$2 c ms="" n=${NATIVE_FIND_T%% *} m
    c=$(cd / && eval "timeout -k 5 600 $cmd" 2>>"$LOG" </dev/null)
    echo "$label: $c entries under myst" >>"$LOG"
    if [[ $c =~ ^[0-9]+$ ]] && [[ $NATIVE_COUNT =~ ^[0-9]+$ ]] && ((c >= NATIVE_COUNT)); then
        ms=$(startup "$cmd" "$FIND_RUNS" 1)
    else
        echo "failed: $cmd (count '$c', native '$NATIVE_COUNT')" >>"$LOG"
    fi
    m=${ms%% *}
    row "$label" "$(fmt "${NATIVE_FIND_T:+$n ± ${NATIVE_FIND_T#* }}")" "$(fmt "${ms:+$m ± ${ms#* }}")" "$(ratio "$n" "$m" time)"
}
find_row "find / | wc -l, $FIND_FILES files, verity (ms)" \
    "$(myst_opts --roothash "$FH" "$EXT2/find.img" /bin/sh -c 'find / | wc -l')"
find_row "find / | wc -l, $FIND_FILES files, hostfs (ms)" \
    "$(myst_opts "$EXT2/find" /bin/sh -c 'find / | wc -l')"

section "startup (whole run)"

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
