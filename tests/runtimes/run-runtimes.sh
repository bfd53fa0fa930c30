#!/usr/bin/env bash
# Managed runtimes under myst, each program run natively and then under myst (with the
# host's / as the root file system), stdout and exit status compared: Java (Debian's
# OpenJDK: javac + java), Go (Debian's golang-go) and Python threads. A runtime that is not
# installed is skipped and says how to install it. Not part of CI (the JDK and Go are large).
#
#   MYST=target/release/myst tests/runtimes/run-runtimes.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
MYST=$(realpath "${MYST:-$REPO/target/release/myst}")
SRC=$REPO/tests/runtimes
OUT=$REPO/tests/build/runtimes
[ -x "$MYST" ] || { echo "run-runtimes: no myst at $MYST (cargo build --release)" >&2; exit 2; }
rm -rf "$OUT"
mkdir -p "$OUT"
PASS=0 FAIL=0 SKIP=0

run_case() { # name cmd...
    local name=$1
    shift
    local d=$OUT/$name
    mkdir -p "$d"
    (cd / && timeout 300 "$@") >"$d/native.out" 2>"$d/native.err"
    local nrc=$?
    (cd / && timeout 300 "$MYST" exec-linux / "$@") >"$d/myst.out" 2>"$d/myst.err"
    local mrc=$?
    if [ $nrc = 0 ] && [ $mrc = 0 ] && cmp -s "$d/native.out" "$d/myst.out" && [ -s "$d/native.out" ]; then
        PASS=$((PASS + 1))
        echo "PASS $name ($(head -n 1 "$d/myst.out"))"
    else
        FAIL=$((FAIL + 1))
        echo "FAIL $name (exit native $nrc, myst $mrc)"
        diff "$d/native.out" "$d/myst.out" | head -n 5 | sed 's/^/    /'
        tail -n 5 "$d/myst.err" | sed 's/^/    stderr: /'
    fi
}
skip() { SKIP=$((SKIP + 1)); echo "SKIP $1 ($2)"; }

if command -v javac >/dev/null && command -v java >/dev/null; then
    if javac -d "$OUT/java" "$SRC/Threads.java" 2>"$OUT/javac.err"; then
        run_case java-threads "$(readlink -f "$(command -v java)")" -cp "$OUT/java" Threads
    else
        FAIL=$((FAIL + 1)); echo "FAIL java-threads (javac failed: $(head -n 3 "$OUT/javac.err"))"
    fi
else
    skip java-threads "no JDK: apt-get install openjdk-17-jdk-headless"
fi

if command -v go >/dev/null; then
    if (cd "$OUT" && GOCACHE=$OUT/gocache GOPATH=$OUT/gopath go build -o "$OUT/goroutines" "$SRC/goroutines.go") 2>"$OUT/go.err"; then
        run_case go-goroutines "$OUT/goroutines"
    else
        FAIL=$((FAIL + 1)); echo "FAIL go-goroutines (go build failed: $(head -n 3 "$OUT/go.err"))"
    fi
else
    skip go-goroutines "no Go: apt-get install golang-go"
fi

if [ -x /usr/bin/python3 ]; then
    run_case python-threading /usr/bin/python3 -B "$SRC/py_threads.py"
else
    skip python-threading "no python3: apt-get install python3"
fi

echo
echo "$PASS passed, $FAIL failed, $SKIP skipped"
[ $FAIL = 0 ]
