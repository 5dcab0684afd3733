#!/usr/bin/env bash
# Installs the peer of the training benchmark (make bench-peft): PyTorch + PEFT through
# Hugging Face transformers, which loads the benchmark's GGUF with `gguf_file=`, in a
# virtual environment of its own under the cache. Pinned, so reruns compare the same
# peer. PyPI's Linux torch wheel pulls the CUDA runtime packages too (about 7 GB installed); it
# runs on the CPU without a GPU. Prints the environment's python.
# Usage: scripts/peft-peer.sh
set -euo pipefail
venv=${VLMJUDGE_CACHE:-$HOME/.cache/vlmjudge}/peft-venv
stamp=$venv/.installed-v1
if [ ! -f "$stamp" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  {
    "$venv/bin/pip" install --quiet --upgrade pip
    "$venv/bin/pip" install --quiet torch==2.9.1 transformers==5.25.0 peft==0.22.0 gguf==0.19.0 accelerate==1.16.0
  } >&2
  touch "$stamp"
fi
echo "$venv/bin/python"
