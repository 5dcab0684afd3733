#!/usr/bin/env bash
# Builds the C library for apps (no CLI, no hub client) and lays it out as an install
# tree: DIST/lib/libvlmjudge.{so,a}, DIST/lib/pkgconfig/vlmjudge.pc, DIST/include/vlmjudge.h.
# Usage: scripts/build-capi.sh DIST   (CAPI_FEATURES=test-hooks: the test suites' build)
set -euo pipefail
dist=${1:?usage: build-capi.sh DIST}
target=${CARGO_TARGET_DIR:-target}
cargo build --release --locked --lib --no-default-features ${CAPI_FEATURES:+--features "$CAPI_FEATURES"}
mkdir -p "$dist/lib/pkgconfig" "$dist/include"
dist=$(cd "$dist" && pwd)
# Debug info stays in the build tree; the installed libraries are stripped.
strip --strip-unneeded -o "$dist/lib/libvlmjudge.so" "$target/release/libvlmjudge.so"
strip --strip-debug -o "$dist/lib/libvlmjudge.a" "$target/release/libvlmjudge.a"
cp include/vlmjudge.h "$dist/include/"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
sed -e "s|@PREFIX@|$dist|" -e "s|@VERSION@|$version|" scripts/vlmjudge.pc.in >"$dist/lib/pkgconfig/vlmjudge.pc"
echo "C library in $dist (pkg-config: PKG_CONFIG_PATH=$dist/lib/pkgconfig)"
