#!/usr/bin/env bash
# Builds vlmjudge with CUDA (llama.cpp's CUDA backend for judging, candle's for
# training) on a machine without a GPU or a system CUDA toolkit: nvcc, the CUDA
# runtime, cuBLAS and the CCCL headers come from NVIDIA's PyPI wheels, merged into one
# toolkit directory that CMake and candle's build scripts accept.
#
# Usage: scripts/build-cuda.sh [OUT_DIR]    (default $CARGO_TARGET_DIR-cuda/dist)
#        scripts/build-cuda.sh --toolkit-only   (fetch and check the toolkit, build nothing)
# Then copy OUT_DIR to the GPU machine and run scripts/gpu-check.sh there.
#
# The toolkit step is checked (--toolkit-only); the CUDA build itself is UNVERIFIED:
# compiling llama.cpp's CUDA kernels on 2 cores takes hours. The wheels hold no
# libcuda.so to link against, so llama.cpp is built without virtual-memory pools
# (feature cuda-no-vmm), which needs only the runtime; candle loads the driver at run
# time. CUDA_ARCHS picks the GPU generations
# (default "80;90": A100, H100/H200).
set -euo pipefail
cache=${VLMJUDGE_CACHE:-$HOME/.cache/vlmjudge}
target=${CARGO_TARGET_DIR:-target}-cuda
out=${1:-$target/dist}
[ "$out" = "--toolkit-only" ] && out=$target/dist
toolkit=$cache/cuda-toolkit
python=${PYTHON:-python3}

if ! command -v nvcc >/dev/null 2>&1 && [ ! -x "$toolkit/bin/nvcc" ]; then
  # CUDA 13's wheels carry the whole compiler driver (nvcc, cudafe++, nvlink...) and
  # install into one tree, nvidia/cu13/{bin,include,lib}; the CUDA 12 "-cu12" nvcc
  # wheels ship only ptxas.
  echo "== fetching the CUDA toolkit from PyPI into $toolkit"
  "$python" -m venv "$cache/cuda-venv"
  "$cache/cuda-venv/bin/pip" install --quiet nvidia-cuda-nvcc nvidia-cuda-runtime nvidia-cublas nvidia-cuda-cccl
  site=$("$cache/cuda-venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  ln -sfn "$site/nvidia/cu13" "$toolkit"
  # CMake looks in lib64; the linker wants unversioned names.
  [ -e "$toolkit/lib64" ] || ln -s lib "$toolkit/lib64"
  for lib in "$toolkit"/lib/lib*.so.[0-9]*; do
    base=${lib%%.so.*}.so
    [ -e "$base" ] || ln -s "$(basename "$lib")" "$base"
  done
fi
if [ -x "$toolkit/bin/nvcc" ]; then
  export CUDA_PATH=$toolkit CUDA_HOME=$toolkit CUDA_TOOLKIT_ROOT_DIR=$toolkit
  export PATH=$toolkit/bin:$PATH LD_LIBRARY_PATH=$toolkit/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  export CUDACXX=$toolkit/bin/nvcc
fi
nvcc --version | tail -2
[ "${1:-}" = "--toolkit-only" ] && exit 0
export CMAKE_CUDA_ARCHITECTURES=${CUDA_ARCHS:-80;90} CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-80}
# Portable CPU code as well: the GPU machine's CPU may differ from this one.
export RUSTFLAGS="-C target-cpu=x86-64-v3"
echo "== building with --features cuda-no-vmm into $target (this takes long)"
CARGO_TARGET_DIR=$target cargo build --release --locked --features cuda-no-vmm --bin vlmjudge
CARGO_TARGET_DIR=$target cargo test --release --locked --features cuda-no-vmm --test train --no-run
mkdir -p "$out"
cp "$target/release/vlmjudge" "$out/"
cp "$(ls -t "$target"/release/deps/train-* | grep -v '\.d$' | head -1)" "$out/train-tests"
cp scripts/gpu-check.sh "$out/"
echo "== $out is ready: run gpu-check.sh there (it needs libcudart/libcublas from the GPU machine)"
