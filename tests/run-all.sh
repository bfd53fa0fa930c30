#!/usr/bin/env bash
# Installs what the tests need (Debian packages, as root, only when missing) and runs every
# test: formatting, lints, unit tests, the generated-docs check, and the program tests that
# run each program natively and under myst and compare the results.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/install-deps.sh
echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== cargo test"
cargo test --workspace
echo "== build"
cargo build --release -p myst
echo "== docs/syscalls.md is current"
target/release/myst syscalls --markdown | diff -u docs/syscalls.md - || { echo "docs/syscalls.md is stale: run 'target/release/myst syscalls --markdown > docs/syscalls.md'"; exit 1; }
echo "== program tests (native vs myst)"
MYST=$PWD/target/release/myst bash tests/run-programs.sh
echo "== networking: servers and clients under myst against host programs"
MYST=$PWD/target/release/myst bash tests/net/run-net-tests.sh
echo "== isolation: kill(-1) inside myst never reaches host processes"
MYST=$PWD/target/release/myst bash tests/isolation/kill-all.sh tests/build/rootfs
echo "== trusted file systems under myst (ext2, verity, LUKS, mounts, /proc, /dev)"
MYST=$PWD/target/release/myst bash tests/fs/run-fs-tests.sh
echo "== image tests (mkext2, fssig, verify against the standard tools)"
MYST=$PWD/target/release/myst bash tests/run-image-tests.sh
echo "== all tests passed"
