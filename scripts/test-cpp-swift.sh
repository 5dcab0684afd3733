#!/usr/bin/env bash
# The C++ and Swift binding checks, against the installed-layout library
# (scripts/build-capi.sh):
#   - bindings/cpp/test_vlmjudge.cpp with -std=c++17 -Wall -Wextra -Werror -pedantic,
#     run plainly and under AddressSanitizer + UBSan;
#   - examples/c/judge.c and examples/cpp/judge.cpp built through pkg-config and run on
#     the demo model;
#   - the Swift package's module map (bindings/swift/Sources/CVLMJudge) imported with
#     clang -fmodules (no Swift toolchain is needed or used: the Swift code itself is
#     not compiled here).
# Usage: scripts/test-cpp-swift.sh DIST WORKDIR
# Environment: VLMJUDGE_TEST_MODEL, VLMJUDGE_TEST_MMPROJ (the tiny-vlm fixture),
#   VLMJUDGE_TEST_IMAGE (a PNG), VLMJUDGE_DEMO_MODEL (the demo GGUF); CXX and CC
#   (default c++ and cc), CLANG (default clang).
set -euo pipefail
usage="usage: test-cpp-swift.sh DIST WORKDIR"
dist=$(cd "${1:?$usage}" && pwd)
mkdir -p "${2:?$usage}"
work=$(cd "$2" && pwd)
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
: "${VLMJUDGE_TEST_MODEL:?VLMJUDGE_TEST_MODEL is not set}"
: "${VLMJUDGE_TEST_MMPROJ:?VLMJUDGE_TEST_MMPROJ is not set}"
: "${VLMJUDGE_TEST_IMAGE:?VLMJUDGE_TEST_IMAGE is not set}"
: "${VLMJUDGE_DEMO_MODEL:?VLMJUDGE_DEMO_MODEL is not set}"
export VLMJUDGE_TEST_MODEL VLMJUDGE_TEST_MMPROJ VLMJUDGE_TEST_IMAGE
export PKG_CONFIG_PATH=$dist/lib/pkgconfig
cxx=${CXX:-c++}
cc=${CC:-cc}
clang=${CLANG:-clang}

cflags=$(pkg-config --cflags vlmjudge)
libs="$(pkg-config --libs vlmjudge) -Wl,-rpath,$dist/lib"
cxxflags="-std=c++17 -Wall -Wextra -Werror -pedantic -Ibindings/cpp $cflags"

echo "== C++ wrapper tests (plain)"
$cxx $cxxflags -O1 bindings/cpp/test_vlmjudge.cpp $libs -pthread -o "$work/test_vlmjudge"
(cd "$work" && ./test_vlmjudge)

echo "== C++ wrapper tests (AddressSanitizer + UBSan)"
$cxx $cxxflags -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all \
  -fno-omit-frame-pointer bindings/cpp/test_vlmjudge.cpp $libs -pthread \
  -o "$work/test_vlmjudge_asan"
(cd "$work" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 ./test_vlmjudge_asan)

echo "== C example"
$cc -std=c11 -Wall -Wextra -Werror -pedantic $cflags examples/c/judge.c $libs -o "$work/judge_c"
c_out=$("$work/judge_c" "$VLMJUDGE_DEMO_MODEL")
echo "$c_out"

echo "== C++ example"
$cxx -std=c++17 -Wall -Wextra -Werror -pedantic -Ibindings/cpp $cflags examples/cpp/judge.cpp \
  $libs -o "$work/judge_cpp"
cpp_out=$("$work/judge_cpp" "$VLMJUDGE_DEMO_MODEL")
echo "$cpp_out"
# Same model, same pair, same defaults: the two examples print the same line.
if [ "$c_out" != "$cpp_out" ]; then
  echo "error: the C and C++ examples disagree" >&2
  exit 1
fi
# A missing model is a non-zero exit with a message, not a crash.
for bin in judge_c judge_cpp; do
  if "$work/$bin" "$work/no-such-model.gguf" 2>"$work/$bin.err"; then
    echo "error: $bin succeeded on a missing model" >&2
    exit 1
  fi
  grep -q "no-such-model.gguf" "$work/$bin.err"
done

echo "== Swift module map (clang -fmodules; the Swift code is not compiled here)"
modmap=bindings/swift/Sources/CVLMJudge/module.modulemap
cat >"$work/import_cvlmjudge.c" <<'EOF'
#pragma clang module import CVLMJudge
int main(void) {
    vlmjudge_judge_params p = vlmjudge_judge_default_params();
    /* The LoRA fields that the Swift ModelParams sets. */
    vlmjudge_model_params mp = vlmjudge_model_default_params();
    vlmjudge_pair pair = {0};
    vlmjudge_progress_callback progress = 0;
    (void)pair;
    (void)progress;
    return p.mode == VLMJUDGE_MODE_FAST && VLMJUDGE_CHOICE_NONE == 3 && mp.lora_path == 0 &&
                   mp.lora_scale == 1.0f
               ? 0
               : 1;
}
EOF
rm -rf "$work/module-cache"
modflags="-fmodules -fmodules-cache-path=$work/module-cache -fmodule-map-file=$modmap $cflags"
$clang $modflags -std=c11 -Wall -Wextra -Werror -fsyntax-only "$work/import_cvlmjudge.c"
# The module's `link "vlmjudge"` reaches the object file (ELF autolinking records it in
# .linker-options; GNU ld ignores that section, so the binary is linked explicitly).
$clang $modflags -std=c11 -c "$work/import_cvlmjudge.c" -o "$work/import_cvlmjudge.o"
readelf -p .linker-options "$work/import_cvlmjudge.o" | grep -qw vlmjudge
$clang "$work/import_cvlmjudge.o" $libs -o "$work/import_cvlmjudge"
"$work/import_cvlmjudge"
echo "module CVLMJudge imports, links and runs"
echo "test-cpp-swift: all passed"
