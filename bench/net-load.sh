#!/usr/bin/env bash
# Load against a server under myst, next to the same server native: the edge-triggered epoll
# echo server (tests/net/epoll_server.c, static) takes connect/send/echo/close requests from
# a host client (tests/net/echo.py load) for SECONDS with CONC client threads. Prints the
# request rate of each and the ratio, the errors, and the server's host fds before and after
# (a leak shows as growth). Not a test: nothing here fails on a number.
#
#   bench/net-load.sh [SECONDS [CONC]]     (default 30 s, 16 threads)
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
MYST=${MYST:-$REPO/target/release/myst}
SECONDS_=${1:-30}
CONC=${2:-16}
[ -x "$MYST" ] || { echo "net-load: no myst at $MYST (cargo build --release)" >&2; exit 2; }
ROOT=$(mktemp -d)
trap 'rm -rf "$ROOT"' EXIT
gcc -O2 -static -o "$ROOT/epoll_server" tests/net/epoll_server.c || exit 2

run() { # native|myst -> "rate errors fds-before fds-after served-line"
    local kind=$1 out=$ROOT/$1.server pid port="" i=0
    if [ "$kind" = native ]; then
        "$ROOT/epoll_server" >"$out" 2>&1 &
    else
        "$MYST" exec-linux "$ROOT" /epoll_server >"$out" 2>&1 &
    fi
    pid=$!
    while [ -z "$port" ] && [ $i -lt 200 ]; do port=$(awk '/^listening/ { print $2 }' "$out"); sleep 0.05; i=$((i + 1)); done
    [ -n "$port" ] || { echo "$kind: server did not start" >&2; kill -9 $pid; return 1; }
    local before after res
    before=$(ls /proc/$pid/fd | wc -l)
    res=$(python3 -B tests/net/echo.py load "$port" "$SECONDS_" "$CONC")
    sleep 1
    after=$(ls /proc/$pid/fd | wc -l)
    kill -TERM $pid
    wait $pid
    echo "$kind: $res; server host fds before $before, after $after; $(grep '^served' "$out")"
}

echo "load: ${SECONDS_} s, $CONC client threads, connect/send/echo/close per request"
n=$(run native) && echo "$n"
m=$(run myst) && echo "$m"
nr=$(sed -nE 's/.*rate ([0-9]+)\/s.*/\1/p' <<<"$n")
mr=$(sed -nE 's/.*rate ([0-9]+)\/s.*/\1/p' <<<"$m")
[ -n "$nr" ] && [ -n "$mr" ] && awk -v n="$nr" -v m="$mr" 'BEGIN { printf "requests/s: native %d, myst %d, slowdown %.2fx\n", n, m, n / m }'
