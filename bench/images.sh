#!/usr/bin/env bash
# Trusted-image benchmarks, all figures from one run:
#   1. `myst mkext2` against `mke2fs -d` + `veritysetup format` on the same tree and ext2 size
#      (a few thousand small files; one 1 GiB file), as a time ratio;
#   2. sequential read throughput through our verity reader and verity+LUKS reader
#      (crates/myst-image/examples/readbench.rs, one thread, warm page cache) next to the
#      machine's own sha256 and aes-256-xts speeds from `openssl speed`, as % of that ceiling.
#
#   MYST=target/release/myst bench/images.sh
#
# Environment: MYST (default target/release/myst), READBENCH (default: built next to MYST,
# else built with cargo), RUNS (hyperfine runs, default 3), SMALL_N (small files, default
# 5000), BIG_MB (size of the big file, default 1024), WORK (scratch dir, default a new one
# under /tmp). The table is also written to bench/out/images.txt.
set -u -o pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(dirname "$HERE")
MYST=${MYST:-$REPO/target/release/myst}
RUNS=${RUNS:-3}
SMALL_N=${SMALL_N:-5000}
BIG_MB=${BIG_MB:-1024}
export PATH="$PATH:/usr/sbin:/sbin"
[ -x "$MYST" ] || { echo "bench/images.sh: no myst binary at $MYST (set MYST=...)" >&2; exit 2; }
MYST=$(cd "$(dirname "$MYST")" && pwd -P)/$(basename "$MYST")
READBENCH=${READBENCH:-$(dirname "$MYST")/examples/readbench}
if [ ! -x "$READBENCH" ]; then
    echo "building readbench..." >&2
    (cd "$REPO" && cargo build -q --release -p myst-image --example readbench) || exit 2
    READBENCH=${CARGO_TARGET_DIR:-$REPO/target}/release/examples/readbench
fi
for t in mke2fs veritysetup openssl; do
    command -v $t >/dev/null || { echo "bench/images.sh: missing $t (run tests/install-deps.sh)" >&2; exit 2; }
done

W=${WORK:-$(mktemp -d /tmp/myst-image-bench.XXXXXX)}
mkdir -p "$W" "$HERE/out"
trap '[ -z "${WORK:-}" ] && rm -rf "$W"' EXIT
OUT=$HERE/out/images.txt
: >"$OUT"
say() { echo "$*" | tee -a "$OUT"; }

# ------------------------------------------------------------------ trees
echo "preparing trees in $W ..." >&2
mkdir -p "$W/small" "$W/big"
python3 - "$W/small" "$SMALL_N" <<'EOF'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
r = random.Random(1)
for i in range(n):
    d = os.path.join(root, "d%02d" % (i % 50), "e%d" % (i % 7))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%05d" % i), "wb") as f:
        f.write(r.randbytes(r.randint(0, 16384)))
EOF
[ -f "$W/big/file.bin" ] && [ "$(stat -c %s "$W/big/file.bin")" = $((BIG_MB << 20)) ] ||
    head -c $((BIG_MB << 20)) /dev/urandom >"$W/big/file.bin"
head -c 64 /dev/urandom >"$W/key"

# seconds NAME CMD: mean wall time of CMD (hyperfine if present, else best of RUNS with `time`)
seconds() {
    local name=$1 cmd=$2
    if command -v hyperfine >/dev/null; then
        hyperfine -N --style none --runs "$RUNS" --export-json "$W/$name.json" "$cmd" >/dev/null 2>&1 || { echo nan; return; }
        python3 -c "import json,sys; print('%.3f' % json.load(open(sys.argv[1]))['results'][0]['mean'])" "$W/$name.json"
    else
        local best=
        for _ in $(seq "$RUNS"); do
            local t0 t1
            t0=$(date +%s.%N)
            bash -c "$cmd" >/dev/null 2>&1 || { echo nan; return; }
            t1=$(date +%s.%N)
            best=$(python3 -c "a=$t1-$t0; b='$best'; print('%.3f' % (a if not b else min(a, float(b))))")
        done
        echo "$best"
    fi
}

say "== mkext2 vs mke2fs -d + veritysetup format (mean of $RUNS runs, seconds)"
say "$(printf '%-28s %10s %12s %8s' tree 'myst' 'mke2fs+vs' 'ratio')"
for tree in small big; do
    "$MYST" mkext2 -q -f "$W/$tree" "$W/$tree.img" || exit 1
    H=$("$MYST" fssig "$W/$tree.img" | awk '$1 == "hash_offset:" { print $2 }')
    a=$(seconds "myst-$tree" "$MYST mkext2 -q -f $W/$tree $W/$tree.img")
    b=$(seconds "tools-$tree" "bash -c 'rm -f $W/$tree.theirs && mke2fs -q -F -t ext2 -b 4096 -d $W/$tree $W/$tree.theirs $((H / 1024))k && veritysetup format --hash-offset=$H $W/$tree.theirs $W/$tree.theirs'")
    label=$([ $tree = small ] && echo "$SMALL_N small files" || echo "one ${BIG_MB} MiB file")
    say "$(printf '%-28s %10s %12s %8s' "$label" "$a" "$b" "$(python3 -c "print('%.2f' % ($a / $b))" 2>/dev/null || echo n/a)")"
    a=$(seconds "myst-enc-$tree" "$MYST mkext2 -q -f --encrypt=$W/key $W/$tree $W/$tree.enc")
    say "$(printf '%-28s %10s %12s' "  (with --encrypt)" "$a" "-")"
done
say "(ratio < 1: myst is faster; the tools' time has no encryption and no FSSIG trailer)"
say ""

# ------------------------------------------------------------------ read throughput
speed() { # openssl speed figure for 4096-byte blocks, in MB/s
    openssl speed -evp "$1" -bytes 4096 -seconds 2 2>/dev/null | awk -v a="$2" 'tolower($1) == tolower(a) { v = $NF; sub("k", "", v); printf "%.0f", v * 1000 / 1e6 }'
}
SHA=$(speed sha256 sha256)
AES=$(speed aes-256-xts AES-256-XTS)
"$MYST" mkext2 -q -f --encrypt="$W/key" "$W/big" "$W/big.enc" || exit 1
V=$("$READBENCH" "$W/big.img" | awk '$1 == "verity" { print $3 }')
VL=$("$READBENCH" "$W/big.enc" "$W/key" | awk '$1 == "verity+luks" { print $3 }')
CEIL=$(python3 -c "print('%.0f' % (1 / (1 / $SHA + 1 / $AES)))")
say "== sequential read, one core, warm page cache (MB/s), ${BIG_MB} MiB file image"
say "$(printf '%-22s %10s %22s %8s' reader 'MB/s' 'ceiling (openssl)' '%')"
say "$(printf '%-22s %10s %22s %7s%%' verity "$V" "sha256 $SHA" "$(python3 -c "print('%.0f' % (100 * $V / $SHA))")")"
say "$(printf '%-22s %10s %22s %7s%%' verity+luks "$VL" "sha256+aes-xts $CEIL" "$(python3 -c "print('%.0f' % (100 * $VL / $CEIL))")")"
say "(openssl: sha256 $SHA MB/s, aes-256-xts $AES MB/s on 4096-byte blocks; the verity+luks ceiling is"
say " 1 / (1/sha256 + 1/aes-xts), both done once per byte)"
