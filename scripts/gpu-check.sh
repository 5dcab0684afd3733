#!/usr/bin/env bash
# On a machine with an NVIDIA GPU, from the directory scripts/build-cuda.sh filled:
# runs the trainer's parity and training tests on the GPU, a short training run with
# --device cuda, and a judge run with every layer offloaded, and prints tokens/s.
# Usage: ./gpu-check.sh DEMO_MODEL.gguf
# UNVERIFIED until a session with a GPU runs it (see the CUDA note in the README).
set -euo pipefail
demo=${1:?usage: gpu-check.sh DEMO_MODEL.gguf}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
export VLMJUDGE_DEMO_MODEL=$demo VLMJUDGE_CACHE=$work/cache
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
"$here/vlmjudge" system-info

echo "== trainer tests (parity with llama.cpp, gradients, export), device auto = CUDA"
"$here/train-tests" --test-threads 1

echo "== short LoRA run on the tiny fixture, --device cuda"
"$here/vlmjudge" dev fixture --kind tiny-vlm --out "$work/tiny" >/dev/null
for i in $(seq 0 63); do
  printf '{"id":"e%d","image":null,"messages":[{"role":"user","content":"Question %d: which answer is right?"}],"target":"Answer A is right because it counts %d legs. [[A]]"}\n' "$i" "$i" "$i"
done >"$work/sft.jsonl"
"$here/vlmjudge" train --base "$demo" --data "$work/sft.jsonl" --out "$work/run" --device cuda \
  --epochs 1 --batch 8 --grad-accum 1 --max-len 256 --eval-split 0 --quiet
tail -n 3 "$work/run/metrics.jsonl"
python3 - "$work/run/metrics.jsonl" <<'PY'
import json, sys
rates = [json.loads(l)["tokens_per_s"] for l in open(sys.argv[1]) if '"tokens_per_s"' in l]
print(f"training tokens/s on the GPU (SmolLM2-135M, LoRA): median {sorted(rates)[len(rates)//2]:.0f}")
PY

echo "== judging with every layer on the GPU"
printf '{"id":"p%d","question":"How many legs does a cat have?","response_a":"Four.","response_b":"Seven."}\n' 1 2 3 4 5 6 7 8 >"$work/pairs.jsonl"
"$here/vlmjudge" judge --model "$demo" --gpu-layers 999 --pairs "$work/pairs.jsonl" --out "$work/v.jsonl"
rm -rf "$work"
