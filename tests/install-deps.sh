#!/usr/bin/env bash
# Installs the Debian packages that the program tests and benchmarks need,
# only those that are missing.  Needs root (or sudo) only when something is
# missing.  Debian 12 (bookworm).
#
#   tests/install-deps.sh
set -euo pipefail

packages=(
    gcc            # the C test programs (dynamic, static, static-pie, non-PIE)
    libc6-dev      # glibc headers and static libc.a
    musl-tools     # musl-gcc -static
    busybox-static # /bin/busybox, statically linked (replaces Debian's dynamic busybox)
    cpio           # checking what myst mkcpio writes
    e2fsprogs      # e2fsck/debugfs, for the ext2 image tests
    cryptsetup-bin # veritysetup/cryptsetup, for the verity and LUKS tests
    hyperfine      # bench/run.sh
    strace         # comparing system calls with native runs
    python3        # small helpers in the scripts
    binutils       # readelf
    coreutils      # timeout
    openssl        # signing keys for the image and file-system tests
    util-linux     # unshare (isolation test)
    curl           # host-side HTTP client in the network tests
    iproute2       # ss, to see a listener come up (network tests)
)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

# busybox-static is the package, but check the file too: a dynamic
# /bin/busybox (package "busybox") must not stand in for it.
if [ -x /bin/busybox ] && readelf -l /bin/busybox 2>/dev/null | grep -q "Requesting program interpreter"; then
    case " ${missing[*]-} " in *" busybox-static "*) ;; *) missing+=(busybox-static) ;; esac
fi

if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all packages present"
    exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo)
    else
        echo "install-deps: need root to install: ${missing[*]}" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
