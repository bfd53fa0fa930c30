#!/usr/bin/env bash
# Networking between programs under myst and ordinary host programs, over loopback.
# Every case runs twice: first with both ends native, then with one end under myst, and
# the client's results must be the same.
#
#   MYST=target/release/myst tests/net/run-net-tests.sh [FILTER]
#
# Servers under myst: busybox httpd and nc -l (test rootfs), python3 http.server and a
# threaded echo server (the host's / as the root file system, read-only use). Clients under
# myst: busybox wget and nc, python3 echo clients. Host ends: curl, busybox nc, python3.
# Load: 1000 TCP connections (50 at a time) and 500 UDP exchanges each way.
set -uo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
MYST=${MYST:-$REPO/target/release/myst}
FILTER=${1:-}
BUILD=$REPO/tests/build
ROOTFS=$BUILD/rootfs
OUT=$BUILD/net
BB=/bin/busybox
ECHO=$REPO/tests/net/echo.py
PY=/usr/bin/python3
TIMEOUT=120

die() { echo "run-net-tests: $*" >&2; exit 2; }
[ -x "$MYST" ] || die "no myst binary at $MYST (cargo build --release)"
[ -x "$ROOTFS$BB" ] || die "no test rootfs at $ROOTFS (run tests/run-programs.sh first)"
for t in curl python3 sha256sum; do command -v $t >/dev/null || die "$t is missing (tests/install-deps.sh)"; done
[ -x $PY ] || die "$PY is missing"

PASS=0 FAIL=0 FAILED=()
pass() { PASS=$((PASS + 1)); echo "PASS $1 ${2:-}"; }
fail() { FAIL=$((FAIL + 1)); FAILED+=("$1"); echo "FAIL $1 ${2:-}"; }
selected() { [ -z "$FILTER" ] || [[ $1 =~ $FILTER ]]; }

rm -rf "$OUT"
mkdir -p "$OUT"
# Served content lives inside the test rootfs, so native and myst servers see the same
# files at the same paths.
WWW=/tmp/net-www
rm -rf "${ROOTFS:?}$WWW"
mkdir -p "$ROOTFS$WWW"
echo "<p>hello from the server</p>" >"$ROOTFS$WWW/index.html"
head -c $((1 << 20)) /dev/urandom >"$ROOTFS$WWW/blob.bin"
BLOB_SHA=$(sha256sum <"$ROOTFS$WWW/blob.bin" | cut -d' ' -f1)

# the C epoll server, built like the C test programs (glibc, dynamic) into the test rootfs
mkdir -p "$ROOTFS/tests/net"
gcc -O2 -Wall -Wextra -Werror -o "$ROOTFS/tests/net/epoll_server" tests/net/epoll_server.c || die "building epoll_server failed"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

wait_tcp() { # port: wait until something accepts on 127.0.0.1:port (10 s)
    python3 - "$1" <<'EOF'
import socket, sys, time
end = time.time() + 10
while time.time() < end:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
EOF
}

SERVER_PID=""
# start_server WHERE LOG CMD...: WHERE is native, myst-rootfs (test rootfs) or myst-host (/)
start_server() {
    local where=$1 log=$2
    shift 2
    case $where in
    native) timeout -k 5 $TIMEOUT "$@" >"$log" 2>"$log.err" & ;;
    myst-rootfs) timeout -k 5 $TIMEOUT "$MYST" exec-linux "$ROOTFS" "$@" >"$log" 2>"$log.err" & ;;
    myst-host) timeout -k 5 $TIMEOUT "$MYST" exec-linux / "$@" >"$log" 2>"$log.err" & ;;
    esac
    SERVER_PID=$!
}
stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    kill "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
    SERVER_PID=""
}
trap stop_server EXIT

# client WHERE CMD...: runs a client natively or under myst; prints its output
client() {
    local where=$1
    shift
    case $where in
    native) timeout -k 5 $TIMEOUT "$@" ;;
    myst-rootfs) timeout -k 5 $TIMEOUT "$MYST" exec-linux "$ROOTFS" "$@" ;;
    myst-host) timeout -k 5 $TIMEOUT "$MYST" exec-linux / "$@" ;;
    esac
}

# compare NAME: native.txt vs myst.txt in $OUT/NAME
compare() {
    local name=$1 d=$OUT/${1//\//_}
    if [ ! -s "$d/native.txt" ]; then
        fail "$name" "(native run printed nothing)"
        sed 's/^/    native: /' "$d"/native.* 2>/dev/null | head -5
    elif cmp -s "$d/native.txt" "$d/myst.txt"; then
        pass "$name" "($(head -n 1 "$d/myst.txt"))"
    else
        fail "$name" "(results differ)"
        diff "$d/native.txt" "$d/myst.txt" | head -n 10 | sed 's/^/    /'
        tail -n 5 "$d"/*.err 2>/dev/null | sed 's/^/    /'
    fi
}

# --- servers under myst, host clients ---------------------------------------------------

http_get_checks() { # port: fetch a page, a missing page and the blob; print what came back
    local port=$1
    curl -sS -m 20 "http://127.0.0.1:$port/index.html"
    curl -sS -m 20 -o /dev/null -w "missing page: %{http_code}\n" "http://127.0.0.1:$port/no-such-page"
    echo "blob: $(curl -sS -m 20 "http://127.0.0.1:$port/blob.bin" | sha256sum | cut -d' ' -f1)"
}

http_load() { # port n parallel: n GETs, parallel at a time; print how many were right
    local port=$1 n=$2 par=$3
    local ok
    ok=$(seq 1 "$n" | xargs -P "$par" -I{} curl -sS -m 30 "http://127.0.0.1:$port/index.html?{}" 2>/dev/null | grep -c "hello from the server")
    echo "$ok of $n requests answered ($par at a time)"
}

case_httpd() {
    local name=server/busybox-httpd d=$OUT/server_busybox-httpd
    selected "$name" || return 0
    mkdir -p "$d"
    for where in native myst-rootfs; do
        local port tag=${where%%-*}
        port=$(free_port)
        if [ $where = native ]; then
            start_server native "$d/$tag.server" "$ROOTFS$BB" httpd -f -p "127.0.0.1:$port" -h "$ROOTFS$WWW"
        else
            start_server $where "$d/$tag.server" $BB httpd -f -p "127.0.0.1:$port" -h "$WWW"
        fi
        if wait_tcp "$port"; then
            {
                http_get_checks "$port"
                http_load "$port" 200 1
                http_load "$port" 200 10
            } >"$d/$tag.txt" 2>"$d/$tag.err"
        else
            echo "server did not start" >"$d/$tag.txt"
        fi
        stop_server
    done
    compare "$name"
}

case_python_http() {
    local name=server/python-http.server d=$OUT/server_python-http.server
    selected "$name" || return 0
    mkdir -p "$d"
    for where in native myst-host; do
        local port tag=${where%%-*}
        port=$(free_port)
        start_server $where "$d/$tag.server" $PY -B -m http.server "$port" --bind 127.0.0.1 --directory "$ROOTFS$WWW"
        if wait_tcp "$port"; then
            { http_get_checks "$port"; http_load "$port" 100 8; } >"$d/$tag.txt" 2>"$d/$tag.err"
        else
            echo "server did not start" >"$d/$tag.txt"
        fi
        stop_server
    done
    compare "$name"
}

case_nc_listen() {
    local name=server/busybox-nc-listen d=$OUT/server_busybox-nc-listen
    selected "$name" || return 0
    mkdir -p "$d"
    for where in native myst-rootfs; do
        local port tag=${where%%-*} bb=$BB
        [ $where = native ] && bb=$ROOTFS$BB
        port=$(free_port)
        # nc -l writes what it receives to stdout; a host program sends the blob and closes
        start_server $where "$d/$tag.recv" $bb nc -l -p "$port" </dev/null
        local i=0
        until ss -Hltn "sport = :$port" | grep -q LISTEN || [ $i -ge 200 ]; do sleep 0.05; i=$((i + 1)); done
        python3 -B "$ECHO" send "$port" "$ROOTFS$WWW/blob.bin" 2>"$d/$tag.err"
        wait "$SERVER_PID" 2>/dev/null
        SERVER_PID=""
        echo "received: $(sha256sum <"$d/$tag.recv" | cut -d' ' -f1)" >"$d/$tag.txt"
    done
    compare "$name"
    [ "$(cat "$d/myst.txt")" = "received: $BLOB_SHA" ] || fail "$name" "(myst side received something else than the 1 MiB blob)"
}

case_echo_server() { # tcp|udp
    local kind=$1 name=server/python-echo-$1 d=$OUT/server_python-echo-$1
    selected "$name" || return 0
    mkdir -p "$d"
    local n=1000 par=50
    [ "$kind" = udp ] && n=500 par=10
    for where in native myst-host; do
        local tag=${where%%-*} port="" i=0
        start_server $where "$d/$tag.server" $PY -B "$ECHO" server "$kind"
        while [ -z "$port" ] && [ $i -lt 200 ]; do
            port=$(awk '/^listening/ { print $2 }' "$d/$tag.server" 2>/dev/null)
            sleep 0.05
            i=$((i + 1))
        done
        if [ -n "$port" ]; then
            python3 -B "$ECHO" client "$kind" "$port" $n $par >"$d/$tag.txt" 2>"$d/$tag.err"
        else
            echo "server did not start" >"$d/$tag.txt"
        fi
        stop_server
    done
    compare "$name"
}

case_burst() { # name where-for-myst n server-cmd...: N connections open at once from the host
    local name=$1 mwhere=$2 n=$3 d=$OUT/${1//\//_}
    shift 3
    selected "$name" || return 0
    mkdir -p "$d"
    for where in native $mwhere; do
        local tag=${where%%-*} port="" i=0
        local -a cmd=("$@")
        [ $where = native ] && [ "${cmd[0]}" != $PY ] && cmd[0]=$ROOTFS${cmd[0]}
        start_server $where "$d/$tag.server" "${cmd[@]}"
        while [ -z "$port" ] && [ $i -lt 200 ]; do
            port=$(awk '/^listening/ { print $2 }' "$d/$tag.server" 2>/dev/null)
            sleep 0.05
            i=$((i + 1))
        done
        if [ -n "$port" ]; then
            python3 -B "$ECHO" burst "$port" "$n" >"$d/$tag.txt" 2>"$d/$tag.err"
        else
            echo "server did not start" >"$d/$tag.txt"
        fi
        # SIGTERM from the host reaches the server (its signalfd), which reports and exits
        kill -TERM "$SERVER_PID"
        wait "$SERVER_PID" 2>/dev/null
        echo "server exit $?" >>"$d/$tag.txt"
        SERVER_PID=""
        grep -h '^served' "$d/$tag.server" >>"$d/$tag.txt"
    done
    compare "$name"
}

# --- clients under myst, host servers ---------------------------------------------------

case_wget() {
    local name=client/busybox-wget d=$OUT/client_busybox-wget
    selected "$name" || return 0
    mkdir -p "$d"
    local port
    port=$(free_port)
    start_server native "$d/server" python3 -B -m http.server "$port" --bind 127.0.0.1 --directory "$ROOTFS$WWW"
    wait_tcp "$port" || { fail "$name" "(host server did not start)"; stop_server; return; }
    for where in native myst-rootfs; do
        local tag=${where%%-*} bb=$BB
        [ $where = native ] && bb=$ROOTFS$BB
        {
            client $where $bb wget -q -O - "http://127.0.0.1:$port/index.html"
            echo "blob: $(client $where $bb wget -q -O - "http://127.0.0.1:$port/blob.bin" | sha256sum | cut -d' ' -f1)"
            client $where $bb wget -q -O - "http://127.0.0.1:$port/no-such-page" >/dev/null 2>&1
            echo "missing page: exit $?"
        } >"$d/$tag.txt" 2>"$d/$tag.err"
    done
    stop_server
    compare "$name"
}

case_nc_client() {
    local name=client/busybox-nc d=$OUT/client_busybox-nc
    selected "$name" || return 0
    mkdir -p "$d"
    for where in native myst-rootfs; do
        local tag=${where%%-*} bb=$BB blob=$WWW/blob.bin port="" i=0
        [ $where = native ] && bb=$ROOTFS$BB blob=$ROOTFS$WWW/blob.bin
        start_server native "$d/$tag.txt" python3 -B "$ECHO" recv-one
        while [ -z "$port" ] && [ $i -lt 200 ]; do
            port=$(awk '/^listening/ { print $2 }' "$d/$tag.txt" 2>/dev/null)
            sleep 0.05
            i=$((i + 1))
        done
        # the client under test sends the blob from its own root file system
        client $where $bb sh -c "$bb nc 127.0.0.1 $port < $blob" 2>"$d/$tag.err"
        wait "$SERVER_PID" 2>/dev/null
        SERVER_PID=""
        sed -i "/^listening/d" "$d/$tag.txt"
    done
    compare "$name"
    [ "$(cat "$d/myst.txt")" = "received 1048576 bytes, sha256 $BLOB_SHA" ] || fail "$name" "(the host received something else than the 1 MiB blob)"
}

case_echo_client() { # tcp|udp
    local kind=$1 name=client/python-echo-$1 d=$OUT/client_python-echo-$1
    selected "$name" || return 0
    mkdir -p "$d"
    local n=1000 par=50 port="" i=0
    [ "$kind" = udp ] && n=500 par=10
    start_server native "$d/server" python3 -B "$ECHO" server "$kind"
    while [ -z "$port" ] && [ $i -lt 200 ]; do
        port=$(awk '/^listening/ { print $2 }' "$d/server" 2>/dev/null)
        sleep 0.05
        i=$((i + 1))
    done
    [ -n "$port" ] || { fail "$name" "(host server did not start)"; stop_server; return; }
    for where in native myst-host; do
        local tag=${where%%-*}
        client $where $PY -B "$ECHO" client "$kind" "$port" $n $par >"$d/$tag.txt" 2>"$d/$tag.err"
    done
    stop_server
    compare "$name"
}

echo "# myst: $MYST"
case_httpd
case_python_http
case_nc_listen
case_echo_server tcp
case_echo_server udp
case_burst server/c-epoll-et-1000 myst-rootfs 1000 /tests/net/epoll_server
case_burst server/python-asyncio-300 myst-host 300 $PY -B "$ECHO" server asyncio
case_wget
case_nc_client
case_echo_client tcp
case_echo_client udp
rm -rf "${ROOTFS:?}$WWW"

echo
if [ $FAIL -gt 0 ]; then
    echo "failed cases:"
    printf '  %s\n' "${FAILED[@]}"
fi
echo "$PASS passed, $FAIL failed"
[ $FAIL = 0 ]
