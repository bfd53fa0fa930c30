#!/usr/bin/env bash
# Trusted file systems under myst (issue 4): programs run out of signed, verified, encrypted
# ext2 images; a tampered block gives EIO to that read only; mounts from config, --mount and
# mount(2); /proc and /dev as programs read them. Every check compares with the host's own
# view of the same files.
#   MYST=target/release/myst tests/fs/run-fs-tests.sh
set -uo pipefail
cd "$(dirname "$0")/../.."
MYST=$(realpath "${MYST:-target/release/myst}")
W=$(mktemp -d /tmp/myst-fs.XXXXXX)
trap 'rm -rf "$W"' EXIT
PASS=0 FAIL=0
ok() { PASS=$((PASS + 1)); echo "PASS $1"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL $1${2:+: $2}"; }
check() { # NAME EXPECTED ACTUAL
    if [ "$2" = "$3" ]; then ok "$1"; else bad "$1" "expected [$2], got [$3]"; fi
}

# A rootfs tree: static busybox, a C helper, a 1 GiB file of random data (sparse-free).
R=$W/root
mkdir -p "$R/bin" "$R/tmp" "$R/mnt" "$R/etc" "$R/data"
cp /bin/busybox "$R/bin/busybox"
cat >"$W/mnt.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <sys/mount.h>
int main(int argc, char **argv) {
    /* mnt SOURCE TARGET FSTYPE DATA FILE: mount, print FILE's first line, unmount */
    if (mount(argv[1], argv[2], argv[3], 0, argv[4][0] ? argv[4] : NULL) != 0) { printf("mount: %s\n", strerror(errno)); return 1; }
    FILE *f = fopen(argv[5], "r");
    char line[256] = "";
    if (!f || !fgets(line, sizeof line, f)) { printf("read: %s\n", strerror(errno)); return 1; }
    fputs(line, stdout);
    if (umount2(argv[2], 0) != 0) { printf("umount: %s\n", strerror(errno)); return 1; }
    FILE *g = fopen(argv[5], "r");
    printf("after umount: %s\n", g ? "still visible" : "gone");
    return 0;
}
C
gcc -O2 -static -o "$R/bin/mnt" "$W/mnt.c"
SIZE_MB=${FS_TEST_MB:-1024}
head -c $((SIZE_MB << 20)) /dev/urandom >"$R/data/big"
echo "inside the image" >"$R/etc/motd"
want=$(sha256sum "$R/data/big" | cut -d' ' -f1)

openssl genrsa -3 -out "$W/priv.pem" 3072 2>/dev/null && openssl rsa -in "$W/priv.pem" -pubout -out "$W/pub.pem" 2>/dev/null
head -c 64 /dev/urandom >"$W/key"
"$MYST" mkext2 --quiet --sign="$W/pub.pem:$W/priv.pem" "$R" "$W/signed.img" || bad "mkext2 signed"
"$MYST" mkext2 --quiet --sign="$W/pub.pem:$W/priv.pem" --encrypt="$W/key" "$R" "$W/enc.img" || bad "mkext2 encrypted"
RH=$("$MYST" fssig --roothash "$W/signed.img")

# 1. a large file through verity, and through verity + LUKS, has its source's sha256
got=$("$MYST" exec-linux --pubkey "$W/pub.pem" "$W/signed.img" /bin/busybox sha256sum /data/big | cut -d' ' -f1)
check "sha256 of a ${SIZE_MB} MiB file through verity" "$want" "$got"
got=$("$MYST" exec-linux --pubkey "$W/pub.pem" --key "$W/key" "$W/enc.img" /bin/busybox sha256sum /data/big | cut -d' ' -f1)
check "sha256 of a ${SIZE_MB} MiB file through verity + LUKS" "$want" "$got"
got=$("$MYST" exec-linux --roothash "$RH" "$W/signed.img" /bin/busybox cat /etc/motd)
check "trusted by root hash" "inside the image" "$got"

# 2. trust is enforced: no key, wrong key, wrong root hash; a debug run says it is unverified
"$MYST" exec-linux "$W/signed.img" /bin/busybox true 2>"$W/err" && bad "untrusted image refused" || ok "untrusted image refused ($(head -c 70 "$W/err")...)"
openssl genrsa -3 -out "$W/other.pem" 3072 2>/dev/null && openssl rsa -in "$W/other.pem" -pubout -out "$W/otherpub.pem" 2>/dev/null
"$MYST" exec-linux --pubkey "$W/otherpub.pem" "$W/signed.img" /bin/busybox true 2>/dev/null && bad "wrong public key refused" || ok "wrong public key refused"
"$MYST" exec-linux --roothash "$(printf '0%.0s' $(seq 64))" "$W/signed.img" /bin/busybox true 2>/dev/null && bad "wrong root hash refused" || ok "wrong root hash refused"
"$MYST" exec-linux --pubkey "$W/pub.pem" "$W/enc.img" /bin/busybox true 2>/dev/null && bad "encrypted image without key refused" || ok "encrypted image without key refused"
"$MYST" exec-linux --debug "$W/signed.img" /bin/busybox true 2>"$W/err" && grep -q "NOT verified" "$W/err" && ok "debug run says it is unverified" || bad "debug run"

# 3. a tampered block: EIO for that read, the rest of the file still reads
python3 - "$W/signed.img" "$R/data/big" <<'PY'
import sys
img, src = sys.argv[1], sys.argv[2]
block = 100
with open(src, 'rb') as f:
    f.seek(block * 4096); chunk = f.read(64)
data = open(img, 'rb').read()
off = data.find(chunk)
assert off >= 0, "block not found in image"
with open(img, 'r+b') as f:
    f.seek(off + 7); b = f.read(1); f.seek(off + 7); f.write(bytes([b[0] ^ 0x55]))
PY
out=$("$MYST" exec-linux --pubkey "$W/pub.pem" "$W/signed.img" /bin/busybox sh -c \
    'cat /data/big >/dev/null 2>&1; echo "cat=$?"; dd if=/data/big of=/dev/null bs=4096 count=100 2>/dev/null; echo "before=$?"; dd if=/data/big of=/dev/null bs=4096 skip=101 count=1000 2>/dev/null; echo "after=$?"; dd if=/data/big of=/dev/null bs=4096 skip=100 count=1 2>&1 | grep -c "Input/output error"')
check "tampered block: cat fails, blocks around it read, the bad one is EIO" "cat=1 before=0 after=0 1" "$(echo $out)"

# 4. writes go to memory only; the image is unchanged
sum_before=$(sha256sum "$W/enc.img" | cut -d' ' -f1)
got=$("$MYST" exec-linux --pubkey "$W/pub.pem" --key "$W/key" "$W/enc.img" /bin/busybox sh -c 'echo new >/etc/motd; cat /etc/motd; mkdir /newdir && echo ok')
check "writes to an ext2 rootfs work" "new ok" "$(echo $got)"
check "the image file is never changed" "$sum_before" "$(sha256sum "$W/enc.img" | cut -d' ' -f1)"

# 5. mounts: --mount of a host directory and of an image; config Mount; mount(2); /proc/mounts
mkdir -p "$W/hostdir" && echo "host side" >"$W/hostdir/f"
cp "$W/mnt.c" "$W/hostdir/" 2>/dev/null
"$MYST" mkext2 --quiet "$W/hostdir" "$W/small.img"
SRH=$("$MYST" fssig --roothash "$W/small.img")
got=$("$MYST" exec-linux --pubkey "$W/pub.pem" --mount "$W/hostdir=/mnt" "$W/enc.img" /bin/busybox cat /mnt/f 2>&1 --key "$W/key")
check "--mount of a host directory" "host side" "$got"
got=$("$MYST" exec-linux --roothash "$SRH" --mount "$W/small.img=/mnt" "$R" /bin/busybox cat /mnt/f)
check "--mount of a verified image on a directory rootfs" "host side" "$got"
cat >"$W/config.json" <<JSON
{ "Mount": [ { "Target": "/mnt", "Type": "ext2", "RootHash": "$SRH" } ] }
JSON
got=$("$MYST" exec-linux --app-config-path "$W/config.json" --mount "$W/small.img=/mnt" "$R" /bin/busybox cat /mnt/f)
check "config Mount with its RootHash and a --mount source" "host side" "$got"
# an encrypted mount whose key lives inside the signed rootfs (config KeyFile)
R2=$W/root2
mkdir -p "$R2/bin" "$R2/etc" "$R2/mnt"
cp /bin/busybox "$R2/bin/busybox"
head -c 64 /dev/urandom >"$R2/etc/mnt.key"
head -c 64 /dev/urandom >"$R2/etc/wrong.key"
"$MYST" mkext2 --quiet --encrypt="$R2/etc/mnt.key" "$W/hostdir" "$W/small-enc.img" || bad "mkext2 small encrypted"
"$MYST" mkext2 --quiet --sign="$W/pub.pem:$W/priv.pem" "$R2" "$W/root2.img" || bad "mkext2 root2"
SERH=$("$MYST" fssig --roothash "$W/small-enc.img")
cat >"$W/config-key.json" <<JSON
{ "Mount": [ { "Target": "/mnt", "Type": "ext2", "RootHash": "$SERH", "KeyFile": "/etc/mnt.key" } ] }
JSON
got=$("$MYST" exec-linux --pubkey "$W/pub.pem" --app-config-path "$W/config-key.json" --mount "$W/small-enc.img=/mnt" "$W/root2.img" /bin/busybox cat /mnt/f)
check "config Mount of an encrypted image with a KeyFile inside the signed rootfs" "host side" "$got"
sed 's|/etc/mnt.key|/etc/wrong.key|' "$W/config-key.json" >"$W/config-wrong.json"
got=$("$MYST" exec-linux --pubkey "$W/pub.pem" --app-config-path "$W/config-wrong.json" --mount "$W/small-enc.img=/mnt" "$W/root2.img" /bin/busybox cat /mnt/f 2>&1; echo "exit $?")
case $got in
*"key"*"exit 127") check "a wrong KeyFile is refused with a message" ok ok ;;
*) check "a wrong KeyFile is refused with a message" "a message about the key, exit 127" "$got" ;;
esac
got=$("$MYST" exec-linux "$R" /bin/mnt "$W/small.img" /mnt ext2 "roothash=$SRH" /mnt/f)
check "mount(2) of a verified image, umount2" "host side
after umount: gone" "$got"
got=$("$MYST" exec-linux "$R" /bin/mnt none /mnt tmpfs "" /proc/self/comm)
check "mount(2) of tmpfs" "mnt
after umount: still visible" "$got"
got=$("$MYST" exec-linux --mount "$W/hostdir=/mnt" "$R" /bin/busybox sh -c 'grep -c " /mnt hostfs " /proc/mounts; df /mnt | tail -1 | grep -c "/mnt"')
check "/proc/mounts and df show the mount" "1 1" "$(echo $got)"

# 6. /proc and /dev as programs read them
got=$("$MYST" exec-linux "$R" /bin/busybox readlink /proc/self/exe)
check "/proc/self/exe" "/bin/busybox" "$got"
got=$("$MYST" exec-linux "$R" /bin/busybox cat /proc/self/cmdline | tr '\0' ' ')
check "/proc/self/cmdline" "/bin/busybox cat /proc/self/cmdline " "$got"
got=$("$MYST" exec-linux "$R" /bin/busybox ls /proc/self/fd | sort -n | head -3 | tr '\n' ' ')
check "/proc/self/fd lists the standard streams" "0 1 2 " "$got"
got=$("$MYST" exec-linux "$R" /bin/busybox grep -c ^processor /proc/cpuinfo)
check "/proc/cpuinfo has one entry per CPU" "$(nproc)" "$got"
got=$("$MYST" exec-linux "$R" /bin/busybox sh -c 'head -1 /proc/meminfo | cut -d: -f1; cat /proc/sys/kernel/ostype; test -c /dev/null && test -c /dev/urandom && test -d /dev/pts && test -c /dev/ptmx && echo devs')
check "/proc/meminfo, /proc/sys/kernel/ostype, /dev nodes" "MemTotal Linux devs" "$(echo $got)"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
