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
# Checked on 2026-11-27 (CUDA_ARCHS=90, an H100 with driver 580): gpu-check.sh passed
# with a binary built this way (README, "Limits"). llama.cpp's CUDA backend took about
# 1.5 hours to compile on 2 cores shared with other work. The script has not run end
# to end as it stands; two steps were done by hand instead: the stand-in archives
# were copied into llama-cpp-sys-2's OUT_DIR (a change of RUSTFLAGS rebuilds
# llama.cpp), and the library's cdylib was left out (crate-type = ["rlib"]) because
# llama.cpp's CUDA objects were not position-independent; the script asks CMake for
# position-independent code instead. The wheels hold no libcuda.so, so a link stub is
# generated (the GPU machine's driver provides the real one), and llama.cpp is built
# without virtual-memory pools (cuda-no-vmm).
# CUDA_ARCHS picks the GPU generations (default "80;90": A100, H100/H200);
# CUDA_VERSION the toolkit (default 13.0, see below). The bodies of llama.cpp's
# flash-attention kernels are compiled out (GGML_CUDA_FA=OFF, overridable):
# vlmjudge's default batch-invariant mode turns flash attention off.
set -euo pipefail
cache=${VLMJUDGE_CACHE:-$HOME/.cache/vlmjudge}
target=${CARGO_TARGET_DIR:-target}-cuda
out=${1:-$target/dist}
[ "$out" = "--toolkit-only" ] && out=$target/dist
toolkit=$cache/cuda-toolkit
python=${PYTHON:-python3}
# The toolkit must not be newer than the GPU machine's driver: candle's kernels ship as
# PTX that the driver compiles at load time, and a driver refuses PTX from a newer
# CUDA. Driver 580 (the H100/H200 machines here) runs CUDA 13.0.
cuda_version=${CUDA_VERSION:-13.0}
toolkit_version() { "$1" --version | sed -n 's/.*release \([0-9.]*\),.*/\1/p'; }

if [ -x "$toolkit/bin/nvcc" ] && [ "$(toolkit_version "$toolkit/bin/nvcc")" != "$cuda_version" ]; then
  echo "== the toolkit in $toolkit is CUDA $(toolkit_version "$toolkit/bin/nvcc"), not $cuda_version: fetching again"
  rm -rf "$cache/cuda-venv" "$toolkit"
fi
if ! command -v nvcc >/dev/null 2>&1 && [ ! -x "$toolkit/bin/nvcc" ]; then
  # CUDA 13's wheels carry the whole compiler driver (nvcc, cudafe++, nvlink...) and
  # install into one tree, nvidia/cu13/{bin,include,lib}; the CUDA 12 "-cu12" nvcc
  # wheels ship only ptxas.
  echo "== fetching the CUDA toolkit from PyPI into $toolkit"
  "$python" -m venv "$cache/cuda-venv"
  # nvcc's own parts (nvvm, crt) are pinned too: pip would take the newest, and
  # ptxas then refuses the newer PTX that nvvm writes. NVRTC and cuRAND are for candle.
  "$cache/cuda-venv/bin/pip" install --quiet "nvidia-cuda-nvcc==$cuda_version.*" "nvidia-nvvm==$cuda_version.*" \
    "nvidia-cuda-crt==$cuda_version.*" "nvidia-cuda-runtime==$cuda_version.*" \
    "nvidia-cublas==$cuda_version.*" "nvidia-cuda-cccl==$cuda_version.*" \
    "nvidia-cuda-nvrtc==$cuda_version.*" nvidia-curand
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
export GGML_CUDA_FA=${GGML_CUDA_FA:-OFF}
# Portable CPU code as well: the GPU machine's CPU may differ from this one.
RUSTFLAGS="-C target-cpu=x86-64-v3"
if [ -x "$toolkit/bin/nvcc" ]; then
  # llama-cpp-sys-2 links cudart, cuBLAS and culibos statically on Linux, but the
  # wheels ship no static cuBLAS or culibos: empty archives stand in for those, and
  # cuBLAS is linked as the shared library it is (the GPU machine provides it).
  stubs=$toolkit/lib/static-stubs
  mkdir -p "$stubs"
  for lib in cublas_static cublasLt_static culibos; do
    [ -e "$toolkit/lib/lib$lib.a" ] || [ -e "$stubs/lib$lib.a" ] || ar rcs "$stubs/lib$lib.a"
  done
  RUSTFLAGS="$RUSTFLAGS -L native=$toolkit/lib -L native=$stubs -C link-arg=-lcublas -C link-arg=-lcublasLt"
  # candle's cudarc links the driver library by name: a stub that defines every
  # function cudarc declares (what the toolkit's own lib/stubs/libcuda.so is).
  if [ ! -e "$stubs/libcuda.so" ]; then
    cargo fetch --locked --quiet
    sys=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/cudarc-*/src/driver/sys/mod.rs | tail -1)
    grep -oE '^\s+fn cu[A-Za-z0-9_]+\(' "$sys" | sed -E 's/^\s+fn //; s/\($//' | sort -u |
      awk '{ print "void " $1 "(void) {}" }' >"$stubs/cuda.c"
    cc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$stubs/libcuda.so" "$stubs/cuda.c"
  fi
fi
# The library is also built as a cdylib, which needs position-independent CUDA objects.
export CMAKE_POSITION_INDEPENDENT_CODE=ON
export RUSTFLAGS
echo "== building with --features cuda-no-vmm into $target (this takes long)"
CARGO_TARGET_DIR=$target cargo build --release --locked --features cuda-no-vmm --bin vlmjudge
# The lab's binary writes the world and its base model on the GPU machine.
CARGO_TARGET_DIR=$target cargo build --release --locked -p vlmjudge-lab --features vlmjudge/cuda-no-vmm --bin vlmjudge-lab
CARGO_TARGET_DIR=$target cargo test --release --locked --features cuda-no-vmm --test train --no-run
mkdir -p "$out"
cp "$target/release/vlmjudge" "$target/release/vlmjudge-lab" "$out/"
cp "$(ls -t "$target"/release/deps/train-* | grep -v '\.d$' | head -1)" "$out/train-tests"
cp scripts/gpu-check.sh "$out/"
echo "== $out is ready: run gpu-check.sh there (it needs libcudart/libcublas from the GPU machine)"
