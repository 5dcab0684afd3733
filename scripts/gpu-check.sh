#!/usr/bin/env bash
# On a machine with an NVIDIA GPU, from the directory scripts/build-cuda.sh filled:
# checks the CUDA build against its own CPU paths on models it generates itself (the
# procedural world and its base model), so nothing large has to travel:
#   1. candle: one epoch of full training on the world with --device cuda and with
#      --device cpu from the same seed; the losses must track each other;
#   2. llama.cpp: the held-out pairs judged by that model with every layer on the GPU
#      and with none; the per-order verdicts must agree;
#   3. a LoRA adapter trained on the GPU loads in llama.cpp on the GPU.
# With DEMO_MODEL.gguf and train-tests (build-cuda.sh's) beside this script, it also
# runs the trainer's test suite, whose device is then CUDA.
# Usage: ./gpu-check.sh [DEMO_MODEL.gguf]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=$here/vlmjudge
lab=$here/vlmjudge-lab
work=${WORK:-$(mktemp -d)}
mkdir -p "$work"
# GPU=cpu runs the same steps on the CPU twice (to try the script on a machine
# without a GPU).
gpu=${GPU:-cuda}
all_layers=999
[ "$gpu" = cpu ] && all_layers=0
[ "$gpu" = cpu ] || nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
# The libraries the build links to by name (the driver's libcuda, cuBLAS, cuRAND,
# NVRTC): the system's where the loader finds them, else the first copies on disk
# (the Python wheels' on the GPU machines here).
if [ "$gpu" != cpu ] && ldd "$bin" | grep -q "not found"; then
  libs=$(find / \( -path /proc -o -path /sys -o -path '*/stubs' \) -prune -o \( -name 'libcuda.so.1' \
    -o -name 'libcublas.so.13' -o -name 'libcurand.so.10' -o -name 'libnvrtc.so.13' \) -printf '%h\n' 2>/dev/null |
    sort -u | paste -sd:)
  export LD_LIBRARY_PATH=$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  missing=$(ldd "$bin" | grep "not found" || true)
  [ -z "$missing" ] || { echo "libraries not found:"; echo "$missing"; exit 1; }
fi
"$bin" system-info | grep -i -m3 'cuda\|gpu' || true

echo "== a small world and its random base model"
"$lab" world --out "$work/world" --seed 0 --pretrain 2000 --pool 100 --heldout 200 >/dev/null
"$lab" fixture --kind world-base --out "$work/init" >/dev/null
train() { # DEVICE OUT EXTRA...
  local device=$1 out=$2
  shift 2
  "$bin" train --quiet --base "$work/init/model.gguf" --mmproj "$work/init/mmproj.gguf" \
    --data "$work/world/pretrain.jsonl" --out "$out" --device "$device" --epochs 1 --lr 3e-3 \
    --batch 4 --grad-accum 4 --eval-split 0.05 --save-every 0 --seed 0 "$@"
}

echo "== candle: full training, the same seed on the GPU and on the CPU"
SECONDS=0
train "$gpu" "$work/full-cuda" --full
echo "GPU: $SECONDS s"
SECONDS=0
train cpu "$work/full-cpu" --full
echo "CPU: $SECONDS s"
python3 - "$work/full-cuda/metrics.jsonl" "$work/full-cpu/metrics.jsonl" <<'PY'
import json, sys
def read(path):
    rows = [json.loads(l) for l in open(path)]
    train = {r["step"]: r for r in rows if r["type"] == "train"}
    evals = [r["eval_loss"] for r in rows if r["type"] == "eval"]
    return train, evals
(gpu, gpu_eval), (cpu, cpu_eval) = read(sys.argv[1]), read(sys.argv[2])
steps = sorted(set(gpu) & set(cpu))
for s in [steps[0], steps[len(steps) // 4], steps[len(steps) // 2], steps[-1]]:
    print(f"step {s}: loss GPU {gpu[s]['loss']:.5f} CPU {cpu[s]['loss']:.5f}")
first = abs(gpu[steps[0]]["loss"] - cpu[steps[0]]["loss"])
print(f"first-step loss difference {first:.2e}; eval loss GPU {gpu_eval[-1]:.4f} CPU {cpu_eval[-1]:.4f}")
med = lambda k, d: sorted(r[k] for r in d.values())[len(d) // 2]
print(f"training tokens/s (median): GPU {med('tokens_per_s', gpu):.0f}, CPU {med('tokens_per_s', cpu):.0f}")
assert first < 1e-3, "the first step's loss differs between GPU and CPU"
assert abs(gpu_eval[-1] - cpu_eval[-1]) < 0.05 * cpu_eval[-1], "the runs diverged"
PY

echo "== llama.cpp: the trained model judges the held-out pairs on the GPU and on the CPU"
model=$work/full-cuda/model-f32.gguf
judge_heldout() { # OUT EXTRA...
  local out=$1
  shift
  "$bin" eval --quiet --model "$model" --mmproj "$work/init/mmproj.gguf" --bench "$work/world/heldout.jsonl" \
    --format pairs --template "$work/world/template.json" --mode reason --out "$out" "$@"
}
for run in gpu cpu; do
  layers=$all_layers
  [ "$run" = cpu ] && layers=0
  SECONDS=0
  judge_heldout "$work/eval-$run.jsonl" --gpu-layers "$layers" | tail -n 3
  echo "--gpu-layers $layers: $SECONDS s"
done
python3 - "$work/eval-gpu.jsonl" "$work/eval-cpu.jsonl" <<'PY'
import json, sys
def verdicts(path):
    return {r["id"]: [o["verdict"] for o in r["orders"]] for r in map(json.loads, open(path))}
gpu, cpu = verdicts(sys.argv[1]), verdicts(sys.argv[2])
same = sum(gpu[k] == cpu.get(k) for k in gpu)
print(f"verdicts that agree: {same} of {len(gpu)}")
assert same >= 0.9 * len(gpu), "GPU and CPU verdicts disagree"
PY

echo "== a LoRA adapter trained on the GPU, applied by llama.cpp on the GPU"
train "$gpu" "$work/lora-cuda" --lora-rank 8
judge_heldout "$work/eval-lora.jsonl" --lora "$work/lora-cuda/adapter.gguf" --limit 20 --gpu-layers "$all_layers" | tail -n 3

if [ -n "${1:-}" ]; then
  export VLMJUDGE_DEMO_MODEL=$1 VLMJUDGE_CACHE=$work/cache
  if [ -x "$here/train-tests" ]; then
    echo "== trainer tests (parity with llama.cpp, gradients, export), device auto = CUDA"
    "$here/train-tests" --test-threads 1
  fi
fi
echo "== all GPU checks passed"
