#!/usr/bin/env bash
# The C ABI test suite: tests/c/*_test.c compiled with -Wall -Wextra -Werror against
# the installed-layout library (scripts/build-capi.sh), run plainly, under
# AddressSanitizer + UBSan, and under valgrind (no errors, no definite leaks).
# valgrind cannot run AVX-512 code, so it runs against a second build of the library
# for x86-64-v3 (AVX2), PORTABLE_DIST.
# Usage: scripts/test-capi.sh DIST PORTABLE_DIST WORKDIR   (WORKDIR: binaries)
# Environment: VLMJUDGE_TEST_MODEL, VLMJUDGE_TEST_MMPROJ (the tiny-vlm fixture) and
# VLMJUDGE_TEST_IMAGE (a PNG); the Makefile sets them.
set -euo pipefail
usage="usage: test-capi.sh DIST PORTABLE_DIST WORKDIR"
dist=$(cd "${1:?$usage}" && pwd)
portable=$(cd "${2:?$usage}" && pwd)
work=${3:?$usage}
mkdir -p "$work"
: "${VLMJUDGE_TEST_MODEL:?}" "${VLMJUDGE_TEST_MMPROJ:?}" "${VLMJUDGE_TEST_IMAGE:?}"
export PKG_CONFIG_PATH=$dist/lib/pkgconfig
cflags="-std=c11 -Wall -Wextra -Werror -pedantic $(pkg-config --cflags vlmjudge)"
libs="$(pkg-config --libs vlmjudge) -Wl,-rpath,$dist/lib -lm -lpthread"

# Each test program runs four ways; a hang (a deadlock) fails after 10 minutes.
run_all() {
  local name=$1 src=tests/c/$1.c
  echo "== $name (plain)"
  cc $cflags -O1 "$src" $libs -o "$work/$name"
  (cd "$work" && timeout 600 "./$name")

  echo "== $name (static library)"
  cc $cflags -O1 "$src" $(pkg-config --static --libs vlmjudge | sed 's/-lvlmjudge/-l:libvlmjudge.a/') -lm -lpthread \
    -o "$work/${name}_static"
  (cd "$work" && timeout 600 "./${name}_static")

  echo "== $name (AddressSanitizer + UBSan)"
  cc $cflags -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
    "$src" $libs -o "$work/${name}_asan"
  (cd "$work" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 timeout 600 "./${name}_asan")

  echo "== $name (valgrind, x86-64-v3 build)"
  cc $cflags -O1 "$src" -L"$portable/lib" -lvlmjudge -Wl,-rpath,"$portable/lib" -lm -lpthread \
    -o "$work/${name}_portable"
  (cd "$work" && timeout 900 valgrind --quiet --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
    --show-leak-kinds=definite "./${name}_portable")
}

run_all abi_test
run_all hardening_test
