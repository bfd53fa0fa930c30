#!/usr/bin/env bash
# Program-level tests: every program runs natively first, then under myst with
# a directory rootfs and with a CPIO rootfs; stdout, stderr (where
# deterministic) and the exit status must match the native run.
#
#   MYST=target/release/myst tests/run-programs.sh [FILTER]
#
# FILTER is an extended regular expression matched against case names
# (c/<flavour>/<program>, rust/..., busybox/..., neg/...).
#
# Environment:
#   MYST          the myst binary (default: target/release/myst)
#   MYST_FLAGS    extra options given to `myst exec-linux` before the rootfs
#   NATIVE_ONLY=1 run only the native halves (checks the test programs)
#   TEST_TIMEOUT  seconds allowed for one run (default 60)
#   KEEP_GOING=0  stop at the first failure
#   MYST_NOTICE_RE  stderr lines that are myst's own notices, left out of the
#                 stderr comparison (default: '^myst: unsupported syscall ')
#
# Layout (all under tests/build/, which is scratch):
#   bin/<flavour>/<prog>   the C programs: glibc (gcc -O2, dynamic PIE),
#                          static (gcc -static), static-pie, nopie (gcc -no-pie,
#                          dynamic ET_EXEC), musl (musl-gcc -static)
#   rust/                  hello-rs, dynamic and +crt-static
#   data/                  input files; the same absolute path exists inside
#                          the rootfs, so that arguments are identical
#   rootfs/                /bin/busybox (static), /tests/<flavour>/<prog>,
#                          the loader and shared libraries, empty /tmp
#   rootfs.cpio            the same, packed by `myst mkcpio`
#   out/<case>/            native.*, dir.*, cpio.* (out, err, rc)
set -u -o pipefail
ulimit -c 0

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(dirname "$HERE")
FILTER=${1:-}
MYST=${MYST:-$REPO/target/release/myst}
MYST_FLAGS=${MYST_FLAGS:-}
NATIVE_ONLY=${NATIVE_ONLY:-0}
TIMEOUT=${TEST_TIMEOUT:-60}
KEEP_GOING=${KEEP_GOING:-1}
# Lines myst prints about unsupported system calls: not compared with the
# native stderr (the exit status and stdout still are).
MYST_NOTICE_RE=${MYST_NOTICE_RE:-'^myst: unsupported syscall '}

BUILD=$HERE/build
BIN=$BUILD/bin
ROOTFS=$BUILD/rootfs
CPIO=$BUILD/rootfs.cpio
DATA=$BUILD/data
OUT=$BUILD/out
SRC=$HERE/programs

# Resolve MYST to an absolute path (it may be a bare command name).
if [[ $MYST == */* ]]; then
    if [ -e "$MYST" ]; then MYST=$(cd "$(dirname "$MYST")" && pwd -P)/$(basename "$MYST"); fi
else
    MYST=$(command -v "$MYST" || echo "$MYST")
fi

FLAVOURS=(glibc static static-pie nopie musl)
# Programs that musl cannot build, with the reason (none at present).
declare -A MUSL_SKIP=()

PASS=0
FAIL=0
SKIP=0
KNOWN=
FAILED_NAMES=()

c_red() { if [ -t 1 ]; then printf '\033[31m%s\033[0m' "$1"; else printf '%s' "$1"; fi; }
c_green() { if [ -t 1 ]; then printf '\033[32m%s\033[0m' "$1"; else printf '%s' "$1"; fi; }

note() { echo "# $*"; }
die() {
    echo "run-programs: $*" >&2
    exit 2
}

pass() {
    PASS=$((PASS + 1))
    echo "$(c_green PASS) $1${2:+ $2}"
}
fail() {
    FAIL=$((FAIL + 1))
    local kind=""
    [[ ${2:-} == \[* ]] && kind=" ${2%%]*}]"
    FAILED_NAMES+=("$1$kind")
    echo "$(c_red FAIL) $1${2:+ $2}"
    if [ "$KEEP_GOING" = 0 ]; then summary; fi
}
known() {
    KNOWN=$((KNOWN + 1))
    echo "KNOWN $1${2:+ $2}"
}
skip() {
    SKIP=$((SKIP + 1))
    echo "SKIP $1${2:+ $2}"
}

summary() {
    echo
    if [ ${#FAILED_NAMES[@]} -gt 0 ]; then
        echo "failed cases:"
        printf '  %s\n' "${FAILED_NAMES[@]}"
    fi
    if [ "$SKIP" -gt 0 ]; then
        echo "$PASS passed, $FAIL failed, $SKIP skipped${KNOWN:+, $KNOWN known gaps (tests/known-gaps.txt)}"
    else
        echo "$PASS passed, $FAIL failed${KNOWN:+, $KNOWN known gaps (tests/known-gaps.txt)}"
    fi
    [ "$FAIL" -eq 0 ]
    exit $?
}

selected() { [ -z "$FILTER" ] || [[ $1 =~ $FILTER ]]; }

# ---------------------------------------------------------------- tools
for t in gcc readelf timeout cmp diff; do
    command -v "$t" >/dev/null || die "missing $t (run tests/install-deps.sh)"
done
HAVE_MUSL=1
command -v musl-gcc >/dev/null || {
    HAVE_MUSL=0
    note "musl-gcc not found: musl flavour skipped (tests/install-deps.sh installs musl-tools)"
}
HOST_BUSYBOX=/bin/busybox
[ -x "$HOST_BUSYBOX" ] || die "no /bin/busybox (run tests/install-deps.sh: busybox-static)"
if readelf -l "$HOST_BUSYBOX" | grep -q "Requesting program interpreter"; then
    die "/bin/busybox is dynamically linked; install busybox-static"
fi

# ---------------------------------------------------------------- build C
mkdir -p "$BIN" "$OUT"
PROGRAMS=()
for f in "$SRC"/*.c; do PROGRAMS+=("$(basename "$f" .c)"); done

cc_for() { # flavour -> compiler command line (without -o/src)
    case $1 in
    glibc) echo "gcc -O2" ;;
    static) echo "gcc -O2 -static" ;;
    static-pie) echo "gcc -O2 -static-pie" ;;
    nopie) echo "gcc -O2 -no-pie -fno-pie" ;;
    musl) echo "musl-gcc -O2 -static" ;;
    esac
}

build_c() {
    local fl=$1 prog=$2 out=$BIN/$1/$2 src=$SRC/$2.c
    mkdir -p "$BIN/$fl"
    if [ -x "$out" ] && [ "$out" -nt "$src" ] && [ "$out" -nt "$SRC/t.h" ] && [ "$out" -nt "$0" ]; then
        return 0
    fi
    # shellcheck disable=SC2046
    if ! $(cc_for "$fl") -Wall -Wextra -Werror -o "$out" "$src" -lm 2>"$out.log"; then
        echo "build failed: $fl/$prog"
        cat "$out.log"
        rm -f "$out"
        return 1
    fi
    rm -f "$out.log"
}

BUILD_FAILS=0
for fl in "${FLAVOURS[@]}"; do
    [ "$fl" = musl ] && [ "$HAVE_MUSL" = 0 ] && continue
    for p in "${PROGRAMS[@]}"; do
        if [ "$fl" = musl ] && [ -n "${MUSL_SKIP[$p]:-}" ]; then continue; fi
        build_c "$fl" "$p" || BUILD_FAILS=$((BUILD_FAILS + 1))
    done
done
for p in "${!MUSL_SKIP[@]}"; do note "musl: $p skipped: ${MUSL_SKIP[$p]}"; done

# A dynamic program whose interpreter does not exist (negative case).
gcc -O2 -Wall -Werror -Wl,--dynamic-linker=/lib64/ld-missing-x86-64.so.2 \
    -o "$BIN/badinterp" "$SRC/hello.c" || BUILD_FAILS=$((BUILD_FAILS + 1))

# ---------------------------------------------------------------- build Rust
RUST_BINS=()
if command -v cargo >/dev/null; then
    RS=$HERE/rust/hello-rs
    mkdir -p "$BUILD/rust"
    if cargo build -q --release --manifest-path "$RS/Cargo.toml" --target-dir "$BUILD/rust-target" &&
        cp "$BUILD/rust-target/release/hello-rs" "$BUILD/rust/hello-rs-dyn"; then
        RUST_BINS+=(hello-rs-dyn)
    else
        echo "build failed: hello-rs (dynamic)"
        BUILD_FAILS=$((BUILD_FAILS + 1))
    fi
    HOST_TRIPLE=$(rustc -vV | sed -n 's/^host: //p')
    if RUSTFLAGS="-C target-feature=+crt-static" cargo build -q --release \
        --manifest-path "$RS/Cargo.toml" --target "$HOST_TRIPLE" --target-dir "$BUILD/rust-target-static" &&
        cp "$BUILD/rust-target-static/$HOST_TRIPLE/release/hello-rs" "$BUILD/rust/hello-rs-static"; then
        RUST_BINS+=(hello-rs-static)
    else
        echo "build failed: hello-rs (crt-static)"
        BUILD_FAILS=$((BUILD_FAILS + 1))
    fi
else
    note "cargo not found: Rust programs skipped"
fi

# ---------------------------------------------------------------- data
# Input files, at an absolute path that exists both on the host and (as a
# copy) inside the rootfs.
make_data() {
    rm -rf "$DATA"
    mkdir -p "$DATA/lsdir" "$DATA/tree/a/b/c" "$DATA/scratch-template/subdir"
    # a host directory that hostshare.c uses from several processes (mounted under myst)
    mkdir -p "$DATA/hostshare"
    cat >"$DATA/words" <<'EOF'
the quick brown fox
jumps over the lazy dog
The Fox was quick
alpha beta gamma
delta
alpha beta gamma
zebra
apple
EOF
    printf 'apple:3\nbanana:12\ncherry:7\ndate:1\nelder:25\n' >"$DATA/nums"
    printf 'a\na\nb\nc\nc\nc\nd\n' >"$DATA/sorted"
    # 100 KB of text lines for stdin and checksums
    awk 'BEGIN { for (i = 0; i < 2000; i++) printf "%05d the line number %d of the input, padded: %s\n", i, i * 7, substr("abcdefghijklmnopqrstuvwxyz", i % 26 + 1) }' >"$DATA/input.txt"
    printf '0123456789' >"$DATA/lsdir/f1"
    : >"$DATA/lsdir/f2"
    head -c 100 "$DATA/input.txt" >"$DATA/lsdir/f3"
    chmod 600 "$DATA/lsdir/f3"
    chmod 755 "$DATA/lsdir/f2"
    ln -s f1 "$DATA/lsdir/link"
    echo leaf >"$DATA/tree/a/b/c/leaf.txt"
    # fixed times (noon UTC: the same date in every time zone)
    touch -d '2020-01-02 12:00:00 UTC' "$DATA/lsdir/f1" "$DATA/lsdir/f2" "$DATA/tree/a/b/c/leaf.txt"
    touch -d '2019-06-30 12:30:00 UTC' "$DATA/lsdir/f3"
    touch -h -d '2018-03-04 12:00:00 UTC' "$DATA/lsdir/link"
    # the scratch directory that writing applets change; restored before each run
    echo "remove me" >"$DATA/scratch-template/rmme"
    echo "move me" >"$DATA/scratch-template/mvme"
    printf 'one a\ntwo a\n' >"$DATA/scratch-template/edit.txt"
    echo "in subdir" >"$DATA/scratch-template/subdir/file"
    cp -a "$DATA/scratch-template" "$DATA/scratch"
    # scripts for the shell (processes) cases, run through #!
    mkdir -p "$DATA/shell"
    cat >"$DATA/shell/args.sh" <<'EOF'
#!/bin/busybox sh
# prints its name (without the directory: it differs natively) and arguments
echo "${0##*/}: $# args"
for a in "$@"; do echo "[$a]"; done
exit 4
EOF
    cat >"$DATA/shell/nested.sh" <<'EOF'
#!/bin/busybox sh
# runs the other script through #! and reports its status
"${0%/*}/args.sh" from nested
echo "args.sh exited $?"
EOF
    chmod 755 "$DATA/shell/args.sh" "$DATA/shell/nested.sh"
}
make_data

# ---------------------------------------------------------------- rootfs
# Copies the shared-library closure of a dynamic ELF (interpreter included)
# into the rootfs, at the same paths.
copy_closure() {
    local elf=$1 lib
    readelf -l "$elf" 2>/dev/null | grep -q "Requesting program interpreter" || return 0
    while read -r lib; do
        [ -n "$lib" ] || continue
        if [ ! -e "$ROOTFS$lib" ]; then
            mkdir -p "$ROOTFS$(dirname "$lib")"
            cp -L "$lib" "$ROOTFS$lib"
        fi
    done < <(ldd "$elf" | grep -o '/[^ ]*' | grep -v '^/.*:$')
}

make_rootfs() {
    rm -rf "$ROOTFS"
    mkdir -p "$ROOTFS/bin" "$ROOTFS/tmp" "$ROOTFS/tests" "$ROOTFS/neg" "$ROOTFS/etc"
    chmod 1777 "$ROOTFS/tmp"
    cp "$HOST_BUSYBOX" "$ROOTFS/bin/busybox"
    ln -s busybox "$ROOTFS/bin/sh"
    # the host's time zone, so that local-time output matches the native run
    if [ -e /etc/localtime ]; then cp -L /etc/localtime "$ROOTFS/etc/localtime"; fi
    local fl
    for fl in "${FLAVOURS[@]}"; do
        [ -d "$BIN/$fl" ] || continue
        mkdir -p "$ROOTFS/tests/$fl"
        find "$BIN/$fl" -maxdepth 1 -type f -perm -u+x -exec cp {} "$ROOTFS/tests/$fl/" \;
    done
    if [ ${#RUST_BINS[@]} -gt 0 ]; then
        mkdir -p "$ROOTFS/tests/rust"
        for b in "${RUST_BINS[@]}"; do cp "$BUILD/rust/$b" "$ROOTFS/tests/rust/"; done
    fi
    local f
    while read -r f; do copy_closure "$f"; done < <(find "$ROOTFS/tests" -type f)
    # data at the same absolute path
    mkdir -p "$ROOTFS$DATA"
    cp -a "$DATA/." "$ROOTFS$DATA/"
    # negative cases
    printf 'this is not an ELF file\n' >"$ROOTFS/neg/notelf"
    head -c 100 "$BIN/static/hello" >"$ROOTFS/neg/truncated"
    # a 64-byte ELF header for AArch64 (e_machine 183), ET_EXEC
    printf '\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00' >"$ROOTFS/neg/aarch64"
    printf '\x02\x00\xb7\x00\x01\x00\x00\x00\x00\x00\x40\x00\x00\x00\x00\x00' >>"$ROOTFS/neg/aarch64"
    printf '\x40\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00' >>"$ROOTFS/neg/aarch64"
    printf '\x00\x00\x00\x00\x40\x00\x38\x00\x00\x00\x40\x00\x00\x00\x00\x00' >>"$ROOTFS/neg/aarch64"
    cp "$BIN/badinterp" "$ROOTFS/neg/badinterp"
    chmod 755 "$ROOTFS/neg/"*
    # hostfs confinement: a file just outside the rootfs, and links that try
    # to reach it
    echo "$OUTSIDE_SECRET" >"$BUILD/outside-marker"
    ln -s ../outside-marker "$ROOTFS/escape-rel"
    ln -s "$BUILD/outside-marker" "$ROOTFS/escape-abs"
    ln -s ../.. "$ROOTFS/escape-dir"
}
OUTSIDE_SECRET="outside the rootfs: must not be readable"
make_rootfs

# ---------------------------------------------------------------- cpio
CPIO_OK=0
CPIO_ERR=""
if [ "$NATIVE_ONLY" != 1 ]; then
    rm -f "$CPIO" "$BUILD/truncated.cpio" "$BUILD/garbage.cpio"
    if CPIO_ERR=$("$MYST" mkcpio "$ROOTFS" "$CPIO" 2>&1) && [ -s "$CPIO" ]; then
        CPIO_OK=1
        sz=$(stat -c %s "$CPIO")
        head -c $((sz / 3)) "$CPIO" >"$BUILD/truncated.cpio"
    else
        note "myst mkcpio failed: $(echo "$CPIO_ERR" | head -3)"
    fi
    # a file that starts like a newc archive and then is garbage
    { printf '070701'; head -c 4000 "$DATA/input.txt"; } >"$BUILD/garbage.cpio"
fi

[ "$BUILD_FAILS" -gt 0 ] && note "$BUILD_FAILS build failures"
note "myst: $MYST${MYST_FLAGS:+ $MYST_FLAGS}"
note "rootfs: $ROOTFS ($(du -sh "$ROOTFS" | cut -f1)), cpio: $([ "$CPIO_OK" = 1 ] && echo "$CPIO" || echo none)"
[ "$NATIVE_ONLY" = 1 ] && note "NATIVE_ONLY: myst runs skipped"

# ---------------------------------------------------------------- running
# The environment every run gets (native and myst alike).
BASE_ENV=(PATH=/bin:/usr/bin)

reset_scratch() { # $1: root prefix ("" for the host)
    rm -rf "$1$DATA/scratch"
    cp -a "$DATA/scratch-template" "$1$DATA/scratch"
}

clean_tmp() {
    rm -rf /tmp/mystbb-test
    find "$ROOTFS/tmp" -mindepth 1 -delete 2>/dev/null
}

# Describes a directory tree (names, types, modes, sizes, link targets,
# contents) for comparing the effect of writing applets.
snapshot() { # DIR [times]
    local d=$1 tfmt=""
    [ "${2:-}" = times ] && tfmt=' %TY-%Tm-%Td %TH:%TM:%TS'
    [ -e "$d" ] || {
        echo "(absent)"
        return
    }
    (
        cd "$d" || exit
        {
            find . -mindepth 1 -type d -printf '%P %y %m %n\n'
            find . -mindepth 1 ! -type d -printf "%P %y %m %s %n %l$tfmt\n"
        } | LC_ALL=C sort
        find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r md5sum
    )
}

# run_cmd KIND: runs "${CMD[@]}" with the case's stdin and environment;
# writes $dir/$KIND.{out,err,rc}.
# Every case starts from the same signal state whatever started this script (a CI runner may
# block or ignore signals, and a Linux program inherits both): no signal blocked, every
# disposition default. --host-sigs starts it instead with SIGUSR1 blocked and SIGUSR2 ignored,
# to check that myst passes the inherited state on as execve does.
sig_state() { # blocked-signal-number-or-0 ignored-signal-number-or-0
    echo "for my \$s (1..64) { next if \$s==9||\$s==19||\$s==32||\$s==33;
        POSIX::sigaction(\$s, POSIX::SigAction->new(\$s==$2 ? 'IGNORE' : 'DEFAULT')) }
        sigprocmask(SIG_SETMASK, $1 ? POSIX::SigSet->new($1) : POSIX::SigSet->new());
        exec {\$ARGV[0]} @ARGV or die \"exec \$ARGV[0]: \$!\\n\""
}
SIG_CLEAN=$(sig_state 0 0)
SIG_HOST=$(sig_state 10 12)

run_cmd() {
    local kind=$1 o=$CASE_DIR/$1
    local -a envv=("${BASE_ENV[@]}" "${CASE_ENV[@]}")
    local -a CMD=(perl -MPOSIX -e "$SIG_PROG" "${CMD[@]}")
    (
        cd /
        case $STDIN_MODE in
        null)
            timeout -k 5 "$TIMEOUT" env -i "${envv[@]}" "${CMD[@]}" </dev/null >"$o.out" 2>"$o.err"
            rc=$?
            ;;
        file)
            timeout -k 5 "$TIMEOUT" env -i "${envv[@]}" "${CMD[@]}" <"$STDIN_ARG" >"$o.out" 2>"$o.err"
            rc=$?
            ;;
        pipe)
            # shellcheck disable=SC2059
            printf "$STDIN_ARG" | timeout -k 5 "$TIMEOUT" env -i "${envv[@]}" "${CMD[@]}" >"$o.out" 2>"$o.err"
            rc=${PIPESTATUS[1]}
            ;;
        esac
        exit "$rc"
    ) 2>/dev/null # (bash's own "Segmentation fault" report goes nowhere)
    echo $? >"$o.rc"
}

show_diff() { # file-a file-b label
    echo "    --- $3: native vs myst ($(basename "$1") / $(basename "$2"))"
    diff -u "$1" "$2" 2>&1 | head -n 40 | sed 's/^/    /'
}

# case NAME [options] -- PROG [ARGS...]
#   --exit N          expected exit status (default 0)
#   --no-stderr       do not compare stderr (it is not deterministic)
#   --myst-stderr RE  myst's stderr must match RE (extended regex)
#   --myst-stderr-once RE  exactly one line of myst's stderr matches RE
#   --myst-config JSON  give myst this config.json (--app-config-path)
#   --stdin-file F    standard input from a file
#   --stdin-pipe S    standard input from a pipe fed with printf S
#   --env K=V         an environment variable (repeatable)
#   --myst-arg ARG    an extra option for `myst exec-linux` (before the rootfs)
#   --scratch         restore $DATA/scratch before each run
#   --state           after the native and dir runs, compare $DATA/scratch
#   --state-times     the same, including the files' modification times
# PROG is the path inside the rootfs; natively, the same file is run from
# the rootfs directory on the host.
# known_gaps_only NATIVE_OUT MYST_OUT: succeeds (printing the gaps) when the only
# differences are checks listed in tests/known-gaps.txt and the summary line.
KNOWN_GAPS_FILE=$(dirname "$0")/known-gaps.txt
known_gaps_only() {
    local n=$1 m=$2 gaps
    [ -f "$KNOWN_GAPS_FILE" ] || return 1
    gaps=$(grep -oE '^FAIL [^ ]*/[a-z_0-9]+\.c:[0-9]+' "$m" | sed -E 's|^FAIL .*/||' | sort -u)
    [ -n "$gaps" ] || return 1
    local g
    for g in $gaps; do
        grep -qE "^$g " "$KNOWN_GAPS_FILE" || return 1
    done
    diff -q <(grep -vE '^[a-z_0-9]+: (all [0-9]+ checks passed|[0-9]+ of [0-9]+ checks FAILED)$' "$n") \
        <(grep -vE '^FAIL |^[a-z_0-9]+: (all [0-9]+ checks passed|[0-9]+ of [0-9]+ checks FAILED)$' "$m") >/dev/null || return 1
    echo "$gaps" | tr '\n' ' '
}

case_() {
    local name=$1
    shift
    selected "$name" || return 0
    local want_exit=0 cmp_err=1 myst_err_re="" myst_err_once="" myst_config="" scratch=0 state=0 stimes=""
    local -a MYST_ARGS=()
    STDIN_MODE=null STDIN_ARG="" CASE_ENV=()
    SIG_PROG=$SIG_CLEAN
    while [ $# -gt 0 ]; do
        case $1 in
        --exit) want_exit=$2; shift 2 ;;
        --no-stderr) cmp_err=0; shift ;;
        --myst-stderr) myst_err_re=$2; shift 2 ;;
        --myst-stderr-once) myst_err_once=$2; shift 2 ;;
        --myst-config) myst_config=$2; shift 2 ;;
        --stdin-file) STDIN_MODE=file STDIN_ARG=$2; shift 2 ;;
        --stdin-pipe) STDIN_MODE=pipe STDIN_ARG=$2; shift 2 ;;
        --env) CASE_ENV+=("$2"); shift 2 ;;
        --host-sigs) SIG_PROG=$SIG_HOST; shift ;;
        --myst-arg) MYST_ARGS+=("$2"); shift 2 ;;
        --scratch) scratch=1; shift ;;
        --state) scratch=1 state=1; shift ;;
        --state-times) scratch=1 state=1 stimes=times; shift ;;
        --) shift; break ;;
        *) die "case $name: bad option $1" ;;
        esac
    done
    local prog=$1
    shift
    local args=("$@")
    CASE_DIR=$OUT/${name//\//_}
    rm -rf "$CASE_DIR"
    mkdir -p "$CASE_DIR"

    if [ ! -e "$ROOTFS$prog" ]; then
        fail "$name" "(not built: $prog)"
        return
    fi

    # native
    clean_tmp
    [ $scratch = 1 ] && reset_scratch ""
    CMD=("$ROOTFS$prog" "${args[@]}")
    run_cmd native
    local nrc
    nrc=$(cat "$CASE_DIR/native.rc")
    [ $state = 1 ] && snapshot "$DATA/scratch" $stimes >"$CASE_DIR/native.state"
    [ $scratch = 1 ] && reset_scratch ""
    if [ "$nrc" != "$want_exit" ]; then
        fail "$name" "[native] exit $nrc, expected $want_exit"
        # the failed checks first: a long output would hide them
        grep '^FAIL ' "$CASE_DIR/native.out" | head -n 20 | sed 's/^/    /'
        sed 's/^/    stdout: /' "$CASE_DIR/native.out" | head -n 20
        sed 's/^/    stderr: /' "$CASE_DIR/native.err" | head -n 20
        return
    fi
    if grep -q '^FAIL ' "$CASE_DIR/native.out"; then
        fail "$name" "[native] a check failed"
        grep '^FAIL ' "$CASE_DIR/native.out" | head -n 20 | sed 's/^/    /'
        return
    fi
    if [ "$NATIVE_ONLY" = 1 ]; then
        pass "$name" "[native]"
        return
    fi

    local kind root
    for kind in dir cpio; do
        if [ $kind = dir ]; then
            root=$ROOTFS
        else
            if [ "$CPIO_OK" != 1 ]; then
                fail "$name" "[cpio] no cpio image (myst mkcpio failed)"
                continue
            fi
            root=$CPIO
        fi
        clean_tmp
        [ $scratch = 1 ] && reset_scratch "$ROOTFS"
        local cfg=()
        if [ -n "$myst_config" ]; then
            printf '%s\n' "$myst_config" >"$CASE_DIR/config.json"
            cfg=(--app-config-path "$CASE_DIR/config.json")
        fi
        # shellcheck disable=SC2206
        CMD=("$MYST" exec-linux $MYST_FLAGS "${cfg[@]}" "${MYST_ARGS[@]}" "$root" "$prog" "${args[@]}")
        run_cmd $kind
        local o=$CASE_DIR/$kind problems=() notes=""
        local mrc nnot
        mrc=$(cat "$o.rc")
        [ "$mrc" = "$nrc" ] || problems+=("exit $mrc, native $nrc")
        [ "$mrc" = 124 ] && problems+=("timed out after ${TIMEOUT}s")
        cmp -s "$CASE_DIR/native.out" "$o.out" || problems+=("stdout differs")
        # myst's own notices (unsupported system calls) are not the program's
        # output: they are left out of the comparison, and counted
        grep -vE "$MYST_NOTICE_RE" "$o.err" >"$o.err.prog"
        nnot=$(grep -cE "$MYST_NOTICE_RE" "$o.err")
        [ "$nnot" -gt 0 ] && notes=" ($nnot unsupported-syscall notices: $(grep -E "$MYST_NOTICE_RE" "$o.err" | grep -oE "syscall [a-z_0-9]+" | sed 's/syscall //' | sort -u | tr '\n' ' ' | sed 's/ $//'))"
        if [ $cmp_err = 1 ]; then
            cmp -s "$CASE_DIR/native.err" "$o.err.prog" || problems+=("stderr differs")
        fi
        if grep -qE 'panicked|RUST_BACKTRACE|stack backtrace' "$o.err"; then
            problems+=("myst panicked")
        fi
        if [ -n "$myst_err_re" ] && ! grep -qE "$myst_err_re" "$o.err"; then
            problems+=("stderr does not match /$myst_err_re/")
        fi
        if [ -n "$myst_err_once" ] && [ "$(grep -cE "$myst_err_once" "$o.err")" != 1 ]; then
            problems+=("not exactly one stderr line matches /$myst_err_once/")
        fi
        if [ $kind = dir ] && [ $state = 1 ]; then
            snapshot "$ROOTFS$DATA/scratch" $stimes >"$o.state"
            cmp -s "$CASE_DIR/native.state" "$o.state" || problems+=("resulting files differ")
        fi
        [ $scratch = 1 ] && reset_scratch "$ROOTFS"
        local gaps=""
        if [ ${#problems[@]} -gt 0 ] && gaps=$(known_gaps_only "$CASE_DIR/native.out" "$o.out"); then
            [ "$mrc" = 1 ] && [ "$nrc" = 0 ] && problems=($(printf '%s\n' "${problems[@]}" | grep -vE '^(exit 1, native 0|stdout differs)$' | tr ' ' '_'))
        else
            gaps=""
        fi
        if [ ${#problems[@]} -eq 0 ] && [ -n "$gaps" ]; then
            known "$name" "[$kind] known gaps: $gaps"
        elif [ ${#problems[@]} -eq 0 ]; then
            pass "$name" "[$kind]$notes"
        else
            local IFS=';'
            fail "$name" "[$kind] ${problems[*]}$notes"
            unset IFS
            cmp -s "$CASE_DIR/native.out" "$o.out" || show_diff "$CASE_DIR/native.out" "$o.out" stdout
            if [ $cmp_err = 1 ] && ! cmp -s "$CASE_DIR/native.err" "$o.err.prog"; then
                show_diff "$CASE_DIR/native.err" "$o.err.prog" stderr
            elif [ -s "$o.err" ]; then
                sed 's/^/    myst stderr: /' "$o.err" | head -n 10
            fi
            if [ -f "$o.state" ] && ! cmp -s "$CASE_DIR/native.state" "$o.state"; then
                show_diff "$CASE_DIR/native.state" "$o.state" files
            fi
        fi
    done
    clean_tmp
}

# neg NAME ROOT PROG [ARGS...]: myst must fail cleanly: a non-zero exit that
# is not a crash, exactly one line on stderr, nothing on stdout, no panic.
neg() {
    local name=$1 root=$2
    shift 2
    selected "$name" || return 0
    if [ "$NATIVE_ONLY" = 1 ]; then
        return 0
    fi
    if [ -z "$root" ]; then
        fail "$name" "(no cpio image: myst mkcpio failed)"
        return
    fi
    CASE_DIR=$OUT/${name//\//_}
    rm -rf "$CASE_DIR"
    mkdir -p "$CASE_DIR"
    STDIN_MODE=null STDIN_ARG="" CASE_ENV=()
    SIG_PROG=$SIG_CLEAN
    # shellcheck disable=SC2206
    CMD=("$MYST" exec-linux $MYST_FLAGS "$root" "$@")
    run_cmd myst
    local o=$CASE_DIR/myst rc problems=()
    rc=$(cat "$o.rc")
    local lines
    lines=$(grep -c . "$o.err")
    [ "$rc" != 0 ] || problems+=("exit status 0")
    [ "$rc" = 124 ] && problems+=("timed out")
    [ "$rc" -ge 128 ] && [ "$rc" != 0 ] && problems+=("exit $rc: killed by a signal?")
    grep -qE 'panicked|RUST_BACKTRACE|stack backtrace' "$o.err" && problems+=("panicked")
    [ "$lines" = 1 ] || problems+=("$lines lines on stderr, want 1")
    [ -s "$o.out" ] && problems+=("output on stdout")
    verdict "$name" "(exit $rc: $(head -n 1 "$o.err"))" "exit $rc: " "$o.out" "$o.err"
}

echo "== C programs"
for fl in "${FLAVOURS[@]}"; do
    [ -d "$ROOTFS/tests/$fl" ] || {
        selected "c/$fl/" && skip "c/$fl/*" "(flavour not built)"
        continue
    }
    for p in "${PROGRAMS[@]}"; do
        name=c/$fl/$p
        if [ "$fl" = musl ] && [ -n "${MUSL_SKIP[$p]:-}" ]; then
            selected "$name" && skip "$name" "(musl: ${MUSL_SKIP[$p]})"
            continue
        fi
        t=/tests/$fl/$p
        case $p in
        args) case_ "$name" -- "$t" one "two words" "" "tab	and ümlaut" "--flag=x" ;;
        envp)
            # myst, like Mystikos, passes host variables only when a config asks
            case_ "$name" --env MYSTT_A=alpha --env "MYSTT_B=two words" --env MYSTT_EMPTY= \
                --myst-config '{ "HostEnvironmentVariables": ["MYSTT_A", "MYSTT_B", "MYSTT_EMPTY"] }' -- "$t"
            case_ "$name-config" --env MYSTT_A=from-config --env "MYSTT_C=x=y" \
                --myst-config '{ "EnvironmentVariables": ["MYSTT_A=from-config", "MYSTT_C=x=y"] }' -- "$t"
            ;;
        exit42) case_ "$name" --exit 42 -- "$t" ;;
        hostshare)
            # the same host directory natively and under myst (mounted over its copy in the rootfs)
            case_ "$name" --myst-arg "--mount=$DATA/hostshare=$DATA/hostshare" -- "$t" "$DATA/hostshare"
            ;;
        abort) case_ "$name" --exit 134 --no-stderr --myst-stderr-once 'SIGABRT' -- "$t" ;;
        segv) case_ "$name" --exit 139 --no-stderr --myst-stderr-once 'SIGSEGV' -- "$t" ;;
        enosys) case_ "$name" --myst-stderr-once 'tuxcall' -- "$t" ;;
        stdin_echo)
            case_ "$name" --stdin-file "$DATA/input.txt" -- "$t"
            case_ "$name-pipe" --stdin-pipe 'line one\nline two\n\nlast line without newline' -- "$t"
            case_ "$name-empty" -- "$t"
            ;;
        *) case_ "$name" -- "$t" ;;
        esac
    done
done

echo "== Rust programs"
for b in "${RUST_BINS[@]}"; do
    case_ "rust/$b" -- "/tests/rust/$b" "$DATA/words"
done

echo "== busybox applets"
BB=/bin/busybox
case_ busybox/echo -- $BB echo hello world
case_ busybox/echo-n -- $BB echo -n no newline
case_ busybox/echo-e -- $BB echo -e 'tab\there\nnext line'
case_ busybox/printf -- $BB printf '%s=%d|%5.2f|%x|%-4s|\n' abc 42 3.14159 255 ab
case_ busybox/cat -- $BB cat "$DATA/words" "$DATA/nums"
case_ busybox/cat-missing --exit 1 -- $BB cat "$DATA/no-such-file"
case_ busybox/cat-stdin-pipe --stdin-pipe 'hi\n' -- $BB cat
case_ busybox/cat-stdin-file --stdin-file "$DATA/input.txt" -- $BB cat
case_ busybox/ls-ln -- $BB ls -ln "$DATA/lsdir/f1" "$DATA/lsdir/f2" "$DATA/lsdir/f3" "$DATA/lsdir/link"
case_ busybox/ls-1 -- $BB ls -1 "$DATA/lsdir"
case_ busybox/ls-1a -- $BB ls -1a "$DATA/tree/a"
case_ busybox/wc -- $BB wc "$DATA/words" "$DATA/input.txt"
case_ busybox/wc-stdin --stdin-file "$DATA/input.txt" -- $BB wc -l
case_ busybox/md5sum -- $BB md5sum "$DATA/words" "$DATA/input.txt"
case_ busybox/sha256sum -- $BB sha256sum "$DATA/words" "$DATA/input.txt"
case_ busybox/head -- $BB head -n 3 "$DATA/words"
case_ busybox/head-c -- $BB head -c 25 "$DATA/input.txt"
case_ busybox/tail -- $BB tail -n 2 "$DATA/words"
case_ busybox/tail-c -- $BB tail -c 40 "$DATA/input.txt"
case_ busybox/sort -- $BB sort "$DATA/words"
case_ busybox/sort-nt -- $BB sort -t: -k2 -n -r "$DATA/nums"
case_ busybox/uniq -- $BB uniq -c "$DATA/sorted"
case_ busybox/awk -- $BB awk -F: '{ s += $2; n++ } END { printf "%d items, total %d, mean %.2f\n", n, s, s / n }' "$DATA/nums"
case_ busybox/sed -- $BB sed -e 's/the/THE/g' -e '/alpha/d' "$DATA/words"
case_ busybox/sed-n -- $BB sed -n '2,3p' "$DATA/words"
case_ busybox/grep -- $BB grep -n -i fox "$DATA/words"
case_ busybox/grep-c -- $BB grep -c alpha "$DATA/words"
case_ busybox/grep-none --exit 1 -- $BB grep nothing-matches "$DATA/words"
case_ busybox/grep-r -- $BB grep -r leaf "$DATA/tree"
case_ busybox/find -- $BB find "$DATA/tree"
case_ busybox/find-type -- $BB find "$DATA/tree" -type f
case_ busybox/find-name -- $BB find "$DATA/lsdir" -name f2
case_ busybox/stat -- $BB stat -c '%n %s %a %F %h' "$DATA/words" "$DATA/lsdir/f3" "$DATA/lsdir/link"
case_ busybox/readlink -- $BB readlink "$DATA/lsdir/link"
case_ busybox/realpath -- $BB realpath "$DATA/lsdir/link"
case_ busybox/cut -- $BB cut -d: -f2 "$DATA/nums"
case_ busybox/tr --stdin-file "$DATA/words" -- $BB tr a-z A-Z
case_ busybox/od -- $BB od -A x -t x1 -N 32 "$DATA/words"
case_ busybox/hexdump -- $BB hexdump -C -n 48 "$DATA/input.txt"
case_ busybox/gzip -- $BB gzip -c -9 "$DATA/input.txt"
case_ busybox/date -- $BB date -u -d '2020-02-29 13:14:15' '+%Y-%m-%d %H:%M:%S %a %j %s'
case_ busybox/uname -- $BB uname -s
case_ busybox/uname-m -- $BB uname -m
case_ busybox/sleep -- $BB sleep 0.1
case_ busybox/true -- $BB true
case_ busybox/false --exit 1 -- $BB false
case_ busybox/pwd -- $BB pwd
case_ busybox/test-f -- $BB test -f "$DATA/words"
case_ busybox/test-d --exit 1 -- $BB test -d "$DATA/words"
case_ busybox/expr -- $BB expr 6 '*' 7
case_ busybox/seq -- $BB seq 1 3 20
case_ busybox/env -- $BB env -i A=1 B='two words'
case_ busybox/env-exec -- $BB env -i A=1 env
case_ busybox/sh-c -- $BB sh -c 'echo $((6 * 7)); x=abc; echo "${x}def"; true'
# writing applets: the scratch directory is compared after the native and
# the dir runs (the cpio rootfs is in memory and not inspected)
case_ busybox/mkdir --state -- $BB mkdir -p "$DATA/scratch/x/y/z"
case_ busybox/mkdir-exists --exit 1 -- $BB mkdir "$DATA/scratch-template"
case_ busybox/mkdir-tmp -- $BB mkdir /tmp/mystbb-test
case_ busybox/rm --state -- $BB rm "$DATA/scratch/rmme"
case_ busybox/rm-r --state -- $BB rm -r "$DATA/scratch/subdir"
case_ busybox/rm-missing --exit 1 -- $BB rm "$DATA/scratch/no-such-file"
case_ busybox/rm-f --scratch -- $BB rm -f "$DATA/scratch/no-such-file"
case_ busybox/mv --state -- $BB mv "$DATA/scratch/mvme" "$DATA/scratch/moved"
case_ busybox/mv-into-dir --state -- $BB mv "$DATA/scratch/mvme" "$DATA/scratch/subdir/"
case_ busybox/cp --state -- $BB cp "$DATA/words" "$DATA/scratch/copy"
case_ busybox/cp-r --state -- $BB cp -r "$DATA/tree" "$DATA/scratch/tree2"
case_ busybox/ln-s --state -- $BB ln -s ../words "$DATA/scratch/symlink"
case_ busybox/ln --state -- $BB ln "$DATA/scratch/rmme" "$DATA/scratch/hardlink"
case_ busybox/touch --state -- $BB touch "$DATA/scratch/newfile"
case_ busybox/touch-d --state-times -- $BB touch -d '2021-03-04 05:06:07' "$DATA/scratch/rmme"
case_ busybox/sed-i --state -- $BB sed -i 's/a$/b/' "$DATA/scratch/edit.txt"
case_ busybox/chmod --state -- $BB chmod 640 "$DATA/scratch/rmme"

echo "== shell (processes)"
# busybox sh scripts that fork, exec, pipe, wait and signal; the same
# /bin/busybox runs them natively and under myst.  (busybox prefers its own
# applets: `seq`, `sort`... run inside busybox, forked or exec'd through
# /proc/self/exe; `/bin/busybox true` is a real fork+exec.)
SH=(/bin/busybox sh -c)
case_ shell/pipeline -- "${SH[@]}" 'seq 1 20 | sort -rn | head -3'
case_ shell/pipeline-long -- "${SH[@]}" 'seq 1 2000 | sed "s/^/n=/" | grep -v 7 | tr = " " | awk "{ s += \$2 } END { print NR, s }" | cat | cat'
case_ shell/pipeline-status --exit 1 -- "${SH[@]}" 'false | true; echo "last true: $?"; true | false; echo "last false: $?"; set -o pipefail; false | true; echo "pipefail: $?"; ! true; echo "negated: $?"; exit 1'
case_ shell/subshell --exit 7 -- "${SH[@]}" '(exit 3); echo "subshell exit: $?"; x=1; (x=2; echo "inside: $x"); echo "outside: $x"; (cd /tmp && pwd); pwd; umask 027; (umask 077; umask); umask; { echo grouped; }; (exit 7)'
case_ shell/cmdsubst -- "${SH[@]}" 'a=$(echo hello | tr a-z A-Z); b=`echo back`; echo "$a $b $(echo $(echo nested))"; n=$(seq 1 100 | wc -l); echo "lines: $n"; echo "status: $(false; echo $?)"; v=$(exit 9); echo "assign status: $?"'
case_ shell/background -- "${SH[@]}" 'sleep 0.2 & p=$!; (exit 5) & q=$!; [ "$p" -gt 0 ] && [ "$q" -gt 0 ] && [ "$p" != "$q" ] && echo "two pids"; wait $q; echo "q: $?"; wait $p; echo "p: $?"; (sleep 0.1; echo bg) & echo fg; wait; echo "all waited: $?"'
case_ shell/background-many -- "${SH[@]}" 'for i in 1 2 3 4 5 6 7 8; do (exit $i) & eval "p$i=\$!"; done; s=0; for i in 1 2 3 4 5 6 7 8; do eval "wait \$p$i"; s=$((s + $?)); done; echo "sum of statuses: $s"'
case_ shell/trap --exit 3 -- "${SH[@]}" 'trap "echo got USR1" USR1; trap "echo bye" EXIT; kill -USR1 $$; echo after; trap - USR1; trap "" USR2; kill -USR2 $$; echo "USR2 ignored"; exit 3'
case_ shell/trap-child -- "${SH[@]}" 'trap "echo parent got TERM" TERM; sh -c "kill -TERM \$PPID"; echo "after child"; trap "" INT; sh -c "kill -INT \$\$; echo child survived INT"'
case_ shell/inherited-signals --host-sigs -- "${SH[@]}" 'grep -E "^Sig(Blk|Ign)" /proc/self/status; kill -USR2 $$; echo survived USR2; kill -USR1 $$; echo survived blocked USR1; trap "echo got USR1" USR1; trap - USR1'
case_ shell/kill-child -- "${SH[@]}" 'sleep 10 & p=$!; kill $p; wait $p; echo "TERM: $?"; sleep 10 & kill -9 $!; wait $!; echo "KILL: $?"; sleep 10 & kill -USR1 $!; wait $!; echo "USR1: $?"; sh -c "kill -SEGV \$\$"; echo "SEGV: $?"'
# busybox sh prints "Terminated" for the killed job or not depending on when the job's
# status is collected, natively as well: stderr is not compared (stdout and status are).
case_ shell/kill-group --no-stderr -- "${SH[@]}" 'setsid sh -c "sleep 10 & sleep 10 & wait" & p=$!; n=0; until kill -0 -$p 2>/dev/null; do sleep 0.02; n=$((n+1)); [ $n -gt 500 ] && { echo "no group"; exit 1; }; done; kill -TERM -$p; wait $p; echo "group leader: $?"'
case_ shell/fork-exec-1000 -- "${SH[@]}" 'i=0; while [ $i -lt 1000 ]; do /bin/busybox true || exit 1; i=$((i + 1)); done; echo "$i fork+exec"'
case_ shell/script -- "${SH[@]}" "$DATA/shell/args.sh one 'two words' ''; echo \"status \$?\"; $DATA/shell/nested.sh"
case_ shell/script-direct --exit 4 -- "$DATA/shell/args.sh" a "b c"
case_ shell/xargs -- "${SH[@]}" 'seq 1 10 | xargs -n 3 echo; printf "a\nb c\n" | xargs -I{} sh -c "echo item {}"; echo x y | xargs -t echo 2>&1'
case_ shell/env-i -- "${SH[@]}" 'export FOO=bar; env -i A=1 B="two words" /bin/busybox env; env -i /bin/busybox sh -c "echo FOO=\${FOO-unset}"; FOO=inline sh -c "echo FOO=\$FOO"; env -u FOO sh -c "echo FOO=\${FOO-unset}"'
case_ shell/heredoc -- "${SH[@]}" 'x=world
cat <<EOF
hello $x $((6 * 7))
EOF
cat <<"EOF"
raw $x
EOF
	cat <<-EOF | tr a-z A-Z
	indented $x
	EOF
while read a b; do echo "$b/$a"; done <<EOF
1 one
2 two
EOF'
case_ shell/read-loop -- "${SH[@]}" 'seq 1 5 | while read n; do echo "n=$n sq=$((n * n))"; done; printf "a b\nc d e\n" | while read x y; do echo "$y-$x"; done; i=0; while read line; do i=$((i + 1)); done <'"$DATA/input.txt"'; echo "$i lines"'
case_ shell/exec-redirect -- "${SH[@]}" 'f=/tmp/mystsh-exec-$$; exec 3>"$f"; echo to3 >&3; echo more >&3; exec 3>&-; cat "$f"; exec 4<"$f"; read l <&4; echo "read: $l"; read l <&4; echo "read: $l"; exec 4<&-; rm "$f"; exec 5>&1; exec >/dev/null; echo hidden; exec 1>&5 5>&-; echo visible; exec 2>&1; ls /no-such-dir-here; echo "ls: $?"'
case_ shell/exec-replace --exit 6 -- "${SH[@]}" 'echo before; exec /bin/busybox sh -c "echo replaced; exit 6"; echo never'
case_ shell/nested-sh -- "${SH[@]}" 'sh -c "sh -c \"exit 4\"; echo inner \$?"; echo outer $?; [ "$$" = "$(echo $$)" ] && echo "\$\$ same in a subshell"; sh -c "exit 300"; echo "300 -> $?"'

# confine NAME ARGS...: with the directory rootfs, a program must not reach
# the file beside the rootfs directory, whatever path or symlink it uses.
# verdict NAME NOTE PREFIX OUT ERR: passes NAME (with NOTE), or fails it with PREFIX and the
# caller's problems[] followed by the first lines of the run's stdout and stderr.
verdict() {
    local name=$1 note=$2 prefix=$3 out=$4 err=$5
    if [ ${#problems[@]} -eq 0 ]; then
        pass "$name" "$note"
    else
        local IFS=';'
        fail "$name" "$prefix${problems[*]}"
        unset IFS
        sed 's/^/    stdout: /' "$out" | head -n 10
        sed 's/^/    stderr: /' "$err" | head -n 10
    fi
}

confine() {
    local name=$1
    shift
    selected "$name" || return 0
    [ "$NATIVE_ONLY" = 1 ] && return 0
    CASE_DIR=$OUT/${name//\//_}
    rm -rf "$CASE_DIR"
    mkdir -p "$CASE_DIR"
    STDIN_MODE=null STDIN_ARG="" CASE_ENV=()
    SIG_PROG=$SIG_CLEAN
    # shellcheck disable=SC2206
    CMD=("$MYST" exec-linux $MYST_FLAGS "$ROOTFS" "$@")
    run_cmd myst
    local o=$CASE_DIR/myst problems=() rc
    rc=$(cat "$o.rc")
    grep -qF "$OUTSIDE_SECRET" "$o.out" && problems+=("read the file outside the rootfs")
    [ "$rc" = 0 ] && problems+=("exit status 0")
    [ "$rc" -ge 124 ] && problems+=("exit $rc")
    grep -qE 'panicked|RUST_BACKTRACE|stack backtrace' "$o.err" && problems+=("panicked")
    # the program itself must have run and reported the missing file
    grep -q 'No such file or directory' "$o.err" || problems+=("no 'No such file or directory' from the program")
    verdict "$name" "(exit $rc: $(grep -vE "$MYST_NOTICE_RE" "$o.err" | head -n 1))" "" "$o.out" "$o.err"
}

echo "== hostfs confinement"
confine confine/dotdot $BB cat /../outside-marker
confine confine/dotdot-deep $BB cat /tmp/../../../../outside-marker
confine confine/symlink-relative $BB cat /escape-rel
confine confine/symlink-absolute $BB cat /escape-abs
confine confine/symlink-dir $BB cat "/escape-dir/$(basename "$BUILD")/outside-marker"
confine confine/symlink-dir-ls $BB ls "/escape-dir/$(basename "$BUILD")/outside-marker"
confine confine/proc-self-root $BB cat /proc/self/root/../outside-marker
confine confine/proc-self-cwd $BB cat /proc/self/cwd/../../outside-marker
confine confine/dev-fd-dotdot $BB cat /dev/fd/../../../outside-marker
confine confine/runtime-symlink-rel $BB sh -c 'ln -sf ../../outside-marker /tmp/esc-rel && cat /tmp/esc-rel; st=$?; rm -f /tmp/esc-rel; exit $st'
confine confine/runtime-symlink-abs $BB sh -c "ln -sf '$BUILD/outside-marker' /tmp/esc-abs && cat /tmp/esc-abs; st=\$?; rm -f /tmp/esc-abs; exit \$st"
confine confine/rename-cwd $BB sh -c 'mkdir -p /tmp/esc-r/d && cd /tmp/esc-r/d && mv /tmp/esc-r /tmp/esc-r2 && cat ../../../outside-marker; st=$?; rm -rf /tmp/esc-r2; exit $st'
confine confine/hardlink $BB sh -c "ln '$BUILD/outside-marker' /tmp/esc-h && cat /tmp/esc-h; st=\$?; rm -f /tmp/esc-h; exit \$st"

# host_files NAME ROOT: the rootfs has no /etc/resolv.conf or /etc/hosts; under myst they
# read as the host's, /etc lists them, and a host-directory rootfs is left unchanged.
host_files() {
    local name=$1 root=$2
    selected "$name" || return 0
    [ "$NATIVE_ONLY" = 1 ] && return 0
    if [ ! -f /etc/resolv.conf ] || [ ! -f /etc/hosts ]; then
        pass "$name" "(skipped: this machine has no /etc/resolv.conf or /etc/hosts)"
        return 0
    fi
    CASE_DIR=$OUT/${name//\//_}
    rm -rf "$CASE_DIR"
    mkdir -p "$CASE_DIR"
    STDIN_MODE=null STDIN_ARG="" CASE_ENV=()
    SIG_PROG=$SIG_CLEAN
    # shellcheck disable=SC2206
    CMD=("$MYST" exec-linux $MYST_FLAGS "$root" $BB sh -c 'cat /etc/resolv.conf; echo ==; cat /etc/hosts; echo ==; ls /etc; echo ==; ls /')
    run_cmd myst
    local o=$CASE_DIR/myst problems=()
    { cat /etc/resolv.conf; echo ==; cat /etc/hosts; echo ==; } >"$CASE_DIR/want"
    [ "$(cat "$o.rc")" = 0 ] || problems+=("exit $(cat "$o.rc")")
    head -c "$(stat -c %s "$CASE_DIR/want")" "$o.out" | cmp -s - "$CASE_DIR/want" || problems+=("contents differ from the host's")
    grep -qx resolv.conf "$o.out" || problems+=("ls /etc does not list resolv.conf")
    grep -qx hosts "$o.out" || problems+=("ls /etc does not list hosts")
    grep -qx proc "$o.out" || problems+=("ls / does not list proc")
    [ -e "$ROOTFS/etc/resolv.conf" ] && problems+=("the host directory was modified")
    verdict "$name" "" "" "$o.out" "$o.err"
}

# The console on a terminal (run under `script`, which gives it one): the program's terminal
# settings reach the host terminal (stty -echo shows in stty -a), and ttyname() finds
# /dev/console under myst where natively it finds the host's /dev/pts/N.
console_case() {
    local name=console/terminal
    selected "$name" || return 0
    [ "$NATIVE_ONLY" = 1 ] && return 0
    command -v script >/dev/null || { pass "$name" "(skipped: no script(1))"; return 0; }
    CASE_DIR=$OUT/${name//\//_}
    rm -rf "$CASE_DIR"
    mkdir -p "$CASE_DIR"
    local cmd="tty; stty -echo; stty -a | tail -n 2; stty echo"
    script -qec "$ROOTFS$BB sh -c '$cmd'" /dev/null </dev/null 2>&1 | tr -d '\r' >"$CASE_DIR/native.out"
    if [[ $(head -n 1 "$CASE_DIR/native.out") != /dev/* ]]; then
        pass "$name" "(skipped: script(1) gives no terminal here: $(head -n 1 "$CASE_DIR/native.out"))"
        return 0
    fi
    script -qec "$MYST exec-linux $MYST_FLAGS $ROOTFS $BB sh -c '$cmd'" /dev/null </dev/null 2>&1 | tr -d '\r' >"$CASE_DIR/myst.out"
    local problems=()
    [ "$(head -n 1 "$CASE_DIR/myst.out")" = /dev/console ] || problems+=("ttyname is not /dev/console")
    grep -q -- ' -echo ' "$CASE_DIR/myst.out" || problems+=("stty -echo did not reach the terminal")
    tail -n +2 "$CASE_DIR/native.out" | cmp -s - <(tail -n +2 "$CASE_DIR/myst.out") || problems+=("stty output differs from native")
    verdict "$name" "($(head -n 1 "$CASE_DIR/myst.out"); $(grep -o -- ' -echo ' "$CASE_DIR/myst.out" | head -n 1))" "" "$CASE_DIR/myst.out" "$CASE_DIR/native.out"
}

echo "== files from the host"
console_case
host_files host-files/dir "$ROOTFS"
[ "$CPIO_OK" = 1 ] && host_files host-files/cpio "$CPIO"

echo "== bad input"
neg neg/missing-rootfs "$BUILD/no-such-rootfs" /bin/busybox true
for kind in dir cpio; do
    root=$ROOTFS
    if [ $kind = cpio ]; then
        root=""
        [ "$CPIO_OK" = 1 ] && root=$CPIO
    fi
    neg "neg/not-in-rootfs-$kind" "$root" /bin/no-such-program
    neg "neg/not-elf-$kind" "$root" /neg/notelf
    neg "neg/truncated-elf-$kind" "$root" /neg/truncated
    neg "neg/aarch64-elf-$kind" "$root" /neg/aarch64
    neg "neg/missing-interpreter-$kind" "$root" /neg/badinterp
    neg "neg/directory-$kind" "$root" /tmp
done
if [ "$CPIO_OK" = 1 ]; then
    neg neg/truncated-cpio "$BUILD/truncated.cpio" /bin/busybox true
fi
neg neg/garbage-cpio "$BUILD/garbage.cpio" /bin/busybox true

# Signals from outside (the user's kill, the terminal's Ctrl-C) reach the program under myst
# as they reach it natively: a trap runs, an untrapped SIGINT kills with status 130. With
# WHOM=child the signal goes instead to the shell's child (under myst: the host process that
# runs it), as the OOM killer or a `kill -9` of its pid would: the shell's wait must see it.
host_signal_case() { # name signal want-exit script [self|child]
    local name=host-signals/$1 sig=$2 want=$3 script=$4 whom=${5:-self}
    selected "$name" || return 0
    [ "$NATIVE_ONLY" = 1 ] && return 0
    if [ "$whom" = child ] && ! command -v pgrep >/dev/null; then
        pass "$name" "(skipped: no pgrep)"
        return 0
    fi
    CASE_DIR=$OUT/${name//\//_}
    rm -rf "$CASE_DIR"
    mkdir -p "$CASE_DIR"
    local kind pid target i res=()
    for kind in native myst; do
        if [ $kind = native ]; then
            # (a background job starts with SIGINT ignored: the wrapper resets it)
            perl -MPOSIX -e "$SIG_CLEAN" "$ROOTFS$BB" sh -c "$script" >"$CASE_DIR/$kind.out" 2>"$CASE_DIR/$kind.err" </dev/null &
        else
            # shellcheck disable=SC2086
            perl -MPOSIX -e "$SIG_CLEAN" "$MYST" exec-linux $MYST_FLAGS "$ROOTFS" $BB sh -c "$script" >"$CASE_DIR/$kind.out" 2>"$CASE_DIR/$kind.err" </dev/null &
        fi
        pid=$!
        i=0
        until grep -q ready "$CASE_DIR/$kind.out" 2>/dev/null || [ $i -ge 200 ]; do sleep 0.05; i=$((i + 1)); done
        target=$pid
        if [ "$whom" = child ]; then
            target=""
            i=0
            until [ -n "$target" ] || [ $i -ge 100 ]; do target=$(pgrep -P $pid | head -n 1); sleep 0.05; i=$((i + 1)); done
        fi
        [ -n "$target" ] && kill -s "$sig" "$target"
        i=0
        while kill -0 $pid 2>/dev/null && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
        kill -0 $pid 2>/dev/null && { kill -9 $pid; echo "(still running 10 s after SIG$sig)" >>"$CASE_DIR/$kind.out"; }
        wait $pid
        res+=("exit $? $(tr '\n' ' ' <"$CASE_DIR/$kind.out")")
    done
    if [ "${res[0]}" = "${res[1]}" ] && [ "${res[0]%% *}" = exit ] && [[ ${res[0]} == "exit $want "* ]]; then
        pass "$name" "(${res[1]})"
    else
        fail "$name" "native: ${res[0]}; myst: ${res[1]}"
        sed 's/^/    myst stderr: /' "$CASE_DIR/myst.err" | head -n 5
    fi
}
echo "== signals from the host"
host_signal_case term-trapped TERM 3 'trap "echo got TERM; exit 3" TERM; echo ready; while :; do sleep 0.1; done'
host_signal_case int-default INT 130 'echo ready; exec sleep 30'
host_signal_case hup-trapped-wait HUP 4 'trap "echo got HUP; exit 4" HUP; sleep 30 & echo ready; wait'
host_signal_case child-killed-outside KILL 0 'sleep 30 & echo ready; wait $!; echo "status $?"; echo done' child

# --memory-size limits what a program commits (not the address space it reserves): a
# program that keeps allocating gets a clean ENOMEM from malloc near the limit, natively it
# gets all it asks for.
limit_case() {
    local name=limits/memory-size-$1 prog=/tests/$1/memlimit
    selected "$name" || return 0
    [ "$NATIVE_ONLY" = 1 ] && return 0
    [ -e "$ROOTFS$prog" ] || { fail "$name" "(not built: $prog)"; return; }
    CASE_DIR=$OUT/${name//\//_}
    rm -rf "$CASE_DIR"
    mkdir -p "$CASE_DIR"
    STDIN_MODE=null STDIN_ARG="" CASE_ENV=() SIG_PROG=$SIG_CLEAN
    CMD=("$ROOTFS$prog" hog 200)
    run_cmd native
    # shellcheck disable=SC2206
    CMD=("$MYST" exec-linux $MYST_FLAGS --memory-size 96m "$ROOTFS" "$prog" hog 200)
    run_cmd myst
    local n m
    n=$(cat "$CASE_DIR/native.out")
    m=$(cat "$CASE_DIR/myst.out")
    local got
    got=$(sed -nE 's/^malloc failed \(ENOMEM\) after ([0-9]+) MiB$/\1/p' "$CASE_DIR/myst.out")
    if [ "$n" != "no failure up to 200 MiB" ]; then
        fail "$name" "[native] $n"
    elif [ "$(cat "$CASE_DIR/myst.rc")" != 0 ] || [ -z "$got" ] || [ "$got" -lt 48 ] || [ "$got" -gt 96 ]; then
        fail "$name" "exit $(cat "$CASE_DIR/myst.rc"): $m (want a clean ENOMEM after 48..96 MiB)"
        sed 's/^/    stderr: /' "$CASE_DIR/myst.err" | head -n 5
    else
        pass "$name" "(native: $n; myst --memory-size 96m: $m)"
    fi
}
for fl in glibc musl; do
    [ -d "$ROOTFS/tests/$fl" ] && limit_case $fl
done

[ "$BUILD_FAILS" -gt 0 ] && {
    FAIL=$((FAIL + BUILD_FAILS))
    FAILED_NAMES+=("$BUILD_FAILS build failure(s), see above")
}
summary
