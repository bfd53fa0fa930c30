#!/usr/bin/env bash
# End-to-end tests of the trusted-image commands (`myst mkext2`, `myst fssig`, `myst verify`)
# against the standard tools: e2fsck, debugfs, veritysetup, cryptsetup, mke2fs, openssl.
# A case whose tool is missing prints SKIP with the reason.
#
#   MYST=target/release/myst tests/run-image-tests.sh
#
# Prints PASS/FAIL/SKIP per case and a summary; exits non-zero if any case failed.
set -u -o pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(dirname "$HERE")
MYST=${MYST:-$REPO/target/release/myst}
[ -x "$MYST" ] || { echo "run-image-tests: no myst binary at $MYST (set MYST=...)" >&2; exit 2; }
MYST=$(cd "$(dirname "$MYST")" && pwd -P)/$(basename "$MYST")
export PATH="$PATH:/usr/sbin:/sbin"

W=$(mktemp -d /tmp/myst-image-tests.XXXXXX)
trap 'rm -rf "$W"' EXIT
cd "$W"

npass=0 nfail=0 nskip=0
pass() { echo "PASS  $1"; npass=$((npass + 1)); }
fail() { echo "FAIL  $1${2:+: $2}"; nfail=$((nfail + 1)); }
skip() { echo "SKIP  $1 ($2)"; nskip=$((nskip + 1)); }
have() { command -v "$1" >/dev/null 2>&1; }
# check NAME COMMAND...: passes when COMMAND succeeds (its output goes to $W/last.log).
check() {
    local name=$1
    shift
    if "$@" >"$W/last.log" 2>&1; then pass "$name"; else fail "$name" "$(tail -n 3 "$W/last.log" | tr '\n' ' ')"; fi
}
# refuse NAME PATTERN COMMAND...: passes when COMMAND fails and its output matches PATTERN.
refuse() {
    local name=$1 pat=$2
    shift 2
    if "$@" >"$W/last.log" 2>&1; then
        fail "$name" "succeeded but should have failed"
    elif grep -qiE -- "$pat" "$W/last.log"; then
        pass "$name"
    else
        fail "$name" "wrong message: $(tail -n 2 "$W/last.log" | tr '\n' ' ')"
    fi
}
flip() { # IMAGE OFFSET: xor one byte with 0x5a
    local b
    b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    printf "$(printf '\\%03o' $((b ^ 0x5a)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
field() { "$MYST" fssig "$1" | awk -v f="$2:" '$1 == f { print $2 }'; }
size_of() { stat -c %s "$1"; }

# ------------------------------------------------------------------ the source tree
mkdir -p src/dir/sub src/many
echo "hello, world" >src/small.txt
: >src/empty
head -c 3000000 /dev/urandom >src/dir/big.bin
printf 'start' >src/sparse && truncate -s 40M src/sparse && printf 'end' >>src/sparse
for i in $(seq 1 2000); do echo "$i" >"src/many/f$i"; done
ln -s small.txt src/fast-link
ln -s "$(printf 'x%.0s' $(seq 1 150))/target" src/dir/slow-link
echo "three names" >src/dir/linked
ln src/dir/linked src/linked2
ln src/dir/linked src/dir/sub/linked3
mkfifo src/fifo
mknod src/dir/null c 1 3 2>/dev/null || true
chmod 600 src/small.txt
chmod 1777 src/dir/sub
chown 1234:5678 src/small.txt 2>/dev/null || true
printf '#!/bin/sh\n' >src/suid && chmod 4755 src/suid
head -c 64 /dev/urandom >key
echo "correct horse battery staple" >pass.txt
PASS=$(cat pass.txt)
printf '%s' "$PASS" >pass.bin

# ------------------------------------------------------------------ plain image
check "mkext2 builds a plain image" "$MYST" mkext2 --quiet src plain.img
ROOT=$("$MYST" fssig --roothash plain.img)
HOFF=$(field plain.img hash_offset)
if [[ $ROOT =~ ^[0-9a-f]{64}$ ]]; then pass "fssig --roothash prints 64 hex digits"; else fail "fssig --roothash" "got '$ROOT'"; fi
if "$MYST" fssig plain.img | grep -q '^magic: *0xf55198a153624d38$' &&
    [ "$(field plain.img signature_size)" = 0 ] && [ "$(field plain.img signer)" = "$(printf '0%.0s' $(seq 1 64))" ]; then
    pass "fssig prints the trailer (unsigned: size 0, signer zero)"
else
    fail "fssig prints the trailer" "$("$MYST" fssig plain.img | tr '\n' ' ')"
fi
if have veritysetup; then
    check "veritysetup verify accepts the tree with fssig's root hash" veritysetup verify --hash-offset="$HOFF" plain.img plain.img "$ROOT"
else skip "veritysetup verify" "no veritysetup"; fi
head -c "$HOFF" plain.img >plain.ext2
if have e2fsck; then check "e2fsck -fn finds nothing" e2fsck -fn plain.ext2; else skip "e2fsck" "no e2fsck"; fi
if have debugfs; then
    rm -rf dump && mkdir dump
    debugfs -R "rdump / dump" plain.ext2 >/dev/null 2>&1
    rm -rf dump/lost+found
    # rdump skips fifos and device nodes; compare everything else.
    if diff -r --no-dereference -x fifo -x null src dump >diff.log 2>&1; then
        pass "debugfs rdump equals the source tree"
    else
        fail "debugfs rdump equals the source tree" "$(head -n 3 diff.log | tr '\n' ' ')"
    fi
    links=$(debugfs -R "stat /linked2" plain.ext2 2>/dev/null | sed -n 's/.*Links: \([0-9]*\).*/\1/p')
    mode=$(debugfs -R "stat /suid" plain.ext2 2>/dev/null | sed -n 's/.*Mode: *\([0-7]*\).*/\1/p')
    ftype=$(debugfs -R "stat /fifo" plain.ext2 2>/dev/null | sed -n 's/.*Type: \([a-zA-Z]*\).*/\1/p')
    if [ "$links" = 3 ] && [ "$mode" = 04755 ] && [ "$ftype" = FIFO ]; then
        pass "debugfs: link counts, set-id modes, fifos"
    else
        fail "debugfs: link counts, set-id modes, fifos" "links=$links mode=$mode type=$ftype"
    fi
else skip "debugfs rdump" "no debugfs"; fi
check "verify --roothash passes" "$MYST" verify plain.img --roothash "$ROOT"
refuse "verify without a key or root hash exits 1" "not verified against any trusted key or root hash" "$MYST" verify plain.img
refuse "verify with a wrong root hash" "not one of the given root hashes" "$MYST" verify plain.img --roothash "$(printf '1%.0s' $(seq 1 64))"

# ------------------------------------------------------------------ tampering
SIZE=$(size_of plain.img)
tamper() { # NAME OFFSET PATTERN
    cp --sparse=always plain.img t.img
    flip t.img "$2"
    refuse "tamper: $1 (byte $2)" "$3" "$MYST" verify t.img --roothash "$ROOT"
}
tamper "ext2 superblock" 1080 "data block 0 "
tamper "ext2 data block" $((HOFF / 2 + 17)) "data block"
tamper "last data byte" $((HOFF - 1)) "data block|top of the hash tree"
tamper "verity superblock salt" $((HOFF + 100)) "top of the hash tree"
tamper "verity superblock data block count" $((HOFF + 72)) "superblock|verity"
tamper "verity superblock padding" $((HOFF + 2000)) "superblock"
tamper "hash tree" $((HOFF + 4096 + 77)) "hash block|top of the hash tree"
tamper "last hash block" $((SIZE - 4096 - 1)) "hash block|top of the hash tree|does not match"
tamper "FSSIG magic" $((SIZE - 4096)) "no FSSIG trailer"
tamper "FSSIG hash offset" $((SIZE - 4096 + 17)) "hash offset|superblock"
tamper "FSSIG root hash" $((SIZE - 4096 + 30)) "root hash"
tamper "FSSIG signer" $((SIZE - 4096 + 60)) "signer"
tamper "FSSIG padding" $((SIZE - 100)) "padding"
head -c $((SIZE - 1)) plain.img >t.img
refuse "truncated image" "truncated|no FSSIG trailer" "$MYST" verify t.img --roothash "$ROOT"
head -c $((SIZE / 2)) plain.img >t.img
refuse "image cut in half" "truncated|no FSSIG trailer" "$MYST" verify t.img --roothash "$ROOT"

# ------------------------------------------------------------------ options
cp plain.img keep.img
refuse "mkext2 never touches an existing IMAGE without --force" "keep.img exists; use --force to overwrite" "$MYST" mkext2 -q src keep.img
if cmp -s plain.img keep.img; then pass "the existing IMAGE is unchanged"; else fail "the existing IMAGE is unchanged"; fi
check "mkext2 --force overwrites" "$MYST" mkext2 --force --quiet src keep.img
if ! cmp -s plain.img keep.img && "$MYST" verify -q keep.img --roothash "$("$MYST" fssig --roothash keep.img)"; then
    pass "the overwritten image is new and verifies"
else fail "the overwritten image is new and verifies"; fi
refuse "too small --size names the minimum" "too small.*at least [0-9]+ bytes" "$MYST" mkext2 --size=1m src small.img
check "a larger --size is honoured" "$MYST" mkext2 -q --size=64m src big.img
[ "$(field big.img hash_offset)" = $((64 << 20)) ] && pass "--size=64m gives a 64 MiB ext2" || fail "--size=64m gives a 64 MiB ext2"
head -c 32 /dev/urandom >short.key
refuse "a 32-byte key file is refused" "exactly 64 bytes" "$MYST" mkext2 --encrypt=short.key src bad.img
refuse "an unknown option is refused" "unknown option" "$MYST" mkext2 --bogus src bad.img
[ ! -e bad.img ] && [ -z "$(ls -A . | grep myst-tmp)" ] && pass "failed runs leave no files behind" || fail "failed runs leave no files behind"

# ------------------------------------------------------------------ encrypted image
check "mkext2 --encrypt builds an encrypted image" "$MYST" mkext2 -q --encrypt=key --passphrase="$PASS" src enc.img
EROOT=$("$MYST" fssig --roothash enc.img)
EHOFF=$(field enc.img hash_offset)
if have veritysetup; then
    check "veritysetup verify accepts the tree over the ciphertext" veritysetup verify --hash-offset="$EHOFF" enc.img enc.img "$EROOT"
else skip "veritysetup verify (encrypted)" "no veritysetup"; fi
if have cryptsetup; then
    if cryptsetup luksDump enc.img >dump.txt 2>&1 && grep -q "Version:.*1" dump.txt && grep -q "xts-plain64" dump.txt &&
        grep -q "MK bits:.*512" dump.txt; then
        pass "cryptsetup luksDump reads the header (LUKS1, aes-xts-plain64, 512 bits)"
    else fail "cryptsetup luksDump reads the header" "$(head -n 5 dump.txt | tr '\n' ' ')"; fi
    mk=$(cryptsetup luksDump --dump-master-key --batch-mode --key-file pass.bin enc.img 2>&1 |
        awk '/MK dump:/ { on = 1; $1 = ""; $2 = "" } on && /^[ \t]*([0-9a-f][0-9a-f] )+/ { print } /^[A-Z]/ && !/MK dump/ { on = 0 }' | tr -d ' \t\n')
    want=$(od -An -tx1 key | tr -d ' \n')
    if [ "$mk" = "$want" ]; then pass "cryptsetup --dump-master-key with the passphrase gives the key file's key"; else
        fail "cryptsetup --dump-master-key gives the key file's key" "got '$mk'"; fi
    refuse "cryptsetup refuses a wrong passphrase" "No key available|passphrase" cryptsetup luksDump --dump-master-key --batch-mode --key-file key enc.img
else skip "cryptsetup luksDump" "no cryptsetup"; fi
check "verify --key --roothash passes (LUKS key and the ext2 inside)" "$MYST" verify enc.img --key key --roothash "$EROOT"
head -c 64 /dev/urandom >other.key
refuse "verify with a wrong key" "wrong key" "$MYST" verify enc.img --key other.key --roothash "$EROOT"
ESIZE=$(size_of enc.img)
etamper() { # NAME OFFSET PATTERN
    cp enc.img t.img
    flip t.img "$2"
    refuse "tamper (encrypted): $1 (byte $2)" "$3" "$MYST" verify t.img --key key --roothash "$EROOT"
}
etamper "LUKS magic" 2 "data block 0 |top of the hash tree"
etamper "LUKS key slot" 300 "data block 0 |top of the hash tree"
etamper "LUKS key material" 40000 "LUKS key material"
etamper "ciphertext" $(((2 << 20) + 5000)) "encrypted ext2 payload"
etamper "hash tree" $((EHOFF + 8192 + 5)) "hash block|top of the hash tree"
etamper "FSSIG root hash" $((ESIZE - 4096 + 40)) "root hash"

# ------------------------------------------------------------------ signed image
if have openssl; then
    openssl genrsa -3 -out priv.pem 3072 >/dev/null 2>&1 && openssl rsa -in priv.pem -pubout -out pub.pem >/dev/null 2>&1
    openssl genrsa -3 -out priv2.pem 3072 >/dev/null 2>&1 && openssl rsa -in priv2.pem -pubout -out pub2.pem >/dev/null 2>&1
    check "mkext2 --sign builds a signed image" "$MYST" mkext2 -q --sign=pub.pem:priv.pem src signed.img
    [ "$(field signed.img signature_size)" = 384 ] && pass "fssig: a 3072-bit signature" || fail "fssig: a 3072-bit signature"
    want=$(openssl rsa -pubin -in pub.pem -noout -modulus 2>/dev/null | sed 's/^Modulus=//' | xxd -r -p | sha256sum | cut -d' ' -f1)
    [ "$(field signed.img signer)" = "$want" ] && pass "fssig: signer is sha256 of the modulus" || fail "fssig: signer is sha256 of the modulus"
    SROOT=$("$MYST" fssig --roothash signed.img)
    printf '%s' "$SROOT" | xxd -r -p >root.bin
    field signed.img signature | xxd -r -p >sig.bin
    if openssl pkeyutl -verify -pubin -inkey pub.pem -pkeyopt digest:sha256 -in root.bin -sigfile sig.bin >/dev/null 2>&1; then
        pass "openssl verifies the signature over the root hash"
    else fail "openssl verifies the signature over the root hash"; fi
    check "verify --pubkey passes" "$MYST" verify signed.img --pubkey pub.pem
    check "verify with two keys, one right, passes" "$MYST" verify signed.img --pubkey pub2.pem --pubkey pub.pem
    refuse "verify with the wrong public key" "untrusted key" "$MYST" verify signed.img --pubkey pub2.pem
    refuse "verify --pubkey on an unsigned image" "not signed" "$MYST" verify plain.img --pubkey pub.pem
    SSIZE=$(size_of signed.img)
    cp signed.img t.img && flip t.img $((SSIZE - 4096 + 88 + 100))
    refuse "tamper: signature byte" "signature does not verify" "$MYST" verify t.img --pubkey pub.pem
    cp signed.img t.img && flip t.img $((SSIZE - 4096 + 25))
    refuse "tamper: signed root hash" "signature does not verify" "$MYST" verify t.img --pubkey pub.pem
    echo "not a key" >junk.pem
    refuse "a PEM that does not parse is a clear error" "not a valid RSA public key" "$MYST" mkext2 --sign=junk.pem:priv.pem src bad.img
    refuse "keys that do not belong together" "does not belong" "$MYST" mkext2 --sign=pub2.pem:priv.pem src bad.img
    check "mkext2 --sign --encrypt" "$MYST" mkext2 -q --sign=pub.pem:priv.pem --encrypt=key src signed-enc.img
    check "verify --pubkey --key (signed and encrypted)" "$MYST" verify signed-enc.img --pubkey pub.pem --key key
else skip "signing cases" "no openssl"; fi

# ------------------------------------------------------------------ the other way
if have mke2fs && have veritysetup; then
    mke2fs -q -F -t ext2 -b 4096 -d src theirs.img 65536k >/dev/null 2>&1
    TROOT=$(veritysetup format --hash-offset=$((64 << 20)) theirs.img theirs.img 2>/dev/null | awk '/^Root hash:/ { print $3 }')
    check "verify reads mke2fs -d + veritysetup format images (--roothash)" "$MYST" verify theirs.img --roothash "$TROOT"
    refuse "... and refuses them with a wrong root hash" "root hash" "$MYST" verify theirs.img --roothash "$ROOT"
else skip "mke2fs + veritysetup images" "no mke2fs or veritysetup"; fi

echo
echo "run-image-tests: $npass passed, $nfail failed, $nskip skipped"
[ "$nfail" -eq 0 ]
