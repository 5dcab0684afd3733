#!/usr/bin/env bash
# Builds vlmjudge with CUDA (llama.cpp's CUDA backend for judging, candle's for
# training) on a machine without a GPU or a system CUDA toolkit: nvcc, the CUDA
# runtime, cuBLAS and the CCCL headers come from NVIDIA's PyPI wheels, merged into one
# toolkit directory that CMake and candle's build scripts accept.
#
# Usage: scripts/build-cuda.sh [OUT_DIR]    (default $CARGO_TARGET_DIR-cuda/dist)
# Then copy OUT_DIR to the GPU machine and run scripts/gpu-check.sh there.
#
# UNVERIFIED: written without a GPU machine or the time to compile llama.cpp's CUDA
# kernels on 2 cores (expect an hour or more). CUDA_ARCHS picks the GPU generations
# (default "80;90": A100, H100/H200).
set -euo pipefail
cache=${VLMJUDGE_CACHE:-$HOME/.cache/vlmjudge}
target=${CARGO_TARGET_DIR:-target}-cuda
out=${1:-$target/dist}
toolkit=$cache/cuda-toolkit
python=${PYTHON:-python3}

if ! command -v nvcc >/dev/null 2>&1 && [ ! -x "$toolkit/bin/nvcc" ]; then
  echo "== fetching the CUDA toolkit from PyPI into $toolkit"
  "$python" -m venv "$cache/cuda-venv"
  "$cache/cuda-venv/bin/pip" install --quiet nvidia-cuda-nvcc-cu12 nvidia-cuda-runtime-cu12 \
    nvidia-cublas-cu12 nvidia-cuda-cccl-cu12
  site=$("$cache/cuda-venv/bin/python" -c 'import nvidia, os; print(os.path.dirname(nvidia.__path__[0]))')/nvidia
  mkdir -p "$toolkit/bin" "$toolkit/include" "$toolkit/lib64"
  for part in cuda_nvcc cuda_runtime cublas cuda_cccl; do
    for d in bin include lib nvvm; do
      [ -d "$site/$part/$d" ] || continue
      case $d in
        lib) dest=lib64 ;;
        *) dest=$d ;;
      esac
      mkdir -p "$toolkit/$dest"
      cp -rs "$site/$part/$d/." "$toolkit/$dest/" 2>/dev/null || true
    done
  done
  # The wheels ship versioned libraries only; the linker wants the plain names.
  for lib in "$toolkit"/lib64/lib*.so.[0-9]*; do
    base=${lib%%.so.*}.so
    [ -e "$base" ] || ln -s "$(basename "$lib")" "$base"
  done
fi
if [ -x "$toolkit/bin/nvcc" ]; then
  export CUDA_PATH=$toolkit CUDA_HOME=$toolkit CUDA_TOOLKIT_ROOT_DIR=$toolkit
  export PATH=$toolkit/bin:$PATH LD_LIBRARY_PATH=$toolkit/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  export CUDACXX=$toolkit/bin/nvcc
fi
export CMAKE_CUDA_ARCHITECTURES=${CUDA_ARCHS:-80;90} CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-80}
# Portable CPU code as well: the GPU machine's CPU may differ from this one.
export RUSTFLAGS="-C target-cpu=x86-64-v3"
echo "== building with --features cuda into $target (this takes long)"
CARGO_TARGET_DIR=$target cargo build --release --locked --features cuda --bin vlmjudge
CARGO_TARGET_DIR=$target cargo test --release --locked --features cuda --test train --no-run
mkdir -p "$out"
cp "$target/release/vlmjudge" "$out/"
cp "$(ls -t "$target"/release/deps/train-* | grep -v '\.d$' | head -1)" "$out/train-tests"
cp scripts/gpu-check.sh "$out/"
echo "== $out is ready: run gpu-check.sh there (it needs libcudart/libcublas from the GPU machine)"
