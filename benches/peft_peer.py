"""The peer side of `make bench-peft`: the same LoRA fine-tuning as `vlmjudge train`, with
PyTorch + PEFT on a model Hugging Face transformers loads from the same GGUF.

It reads the examples as the bench tokenized them (token ids and the prompt length of
each), so both sides train on exactly the same tokens with the loss on the same
positions. The loop is the one PEFT's documentation shows, without the `Trainer`
wrapper's logging and evaluation: per step, forward with labels (-100 on the prompt and
the padding), backward, gradient clipping, AdamW. Tokens/s counts the real (unpadded)
tokens over the steps' time alone, as `vlmjudge train` does.

Run by benches/peft_throughput.rs with the python of scripts/peft-peer.sh.
"""

import argparse
import json
import math
import os
import random
import resource
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--gguf", required=True, help="the base model (GGUF)")
    p.add_argument("--tokens", required=True, help="JSON Lines of {tokens, n_prompt}")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--rank", type=int, default=16)
    p.add_argument("--alpha", type=float, default=32.0)
    p.add_argument("--dropout", type=float, default=0.05)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--warmup", type=float, default=0.03)
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args()


def main():
    args = parse_args()
    # Before torch starts its pools.
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    directory, name = os.path.split(os.path.abspath(args.gguf))
    model = AutoModelForCausalLM.from_pretrained(directory, gguf_file=name, dtype=torch.float32)
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    lora = LoraConfig(
        r=args.rank, lora_alpha=args.alpha, lora_dropout=args.dropout, target_modules=targets, task_type="CAUSAL_LM"
    )
    model = get_peft_model(model, lora)
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=args.lr, weight_decay=0.0)

    with open(args.tokens) as f:
        examples = [json.loads(line) for line in f]
    steps_per_epoch = math.ceil(len(examples) / args.batch)
    total = steps_per_epoch * args.epochs
    warmup = max(1, round(args.warmup * total))

    def lr_at(step):
        if step < warmup:
            return args.lr * (step + 1) / warmup
        t = (step - warmup) / max(1, total - warmup)
        return args.lr * 0.5 * (1 + math.cos(math.pi * t))

    rng = random.Random(args.seed)
    seconds, tokens, loss = 0.0, 0, float("nan")
    step = 0
    for _ in range(args.epochs):
        order = list(range(len(examples)))
        rng.shuffle(order)
        for lo in range(0, len(order), args.batch):
            chunk = [examples[i] for i in order[lo : lo + args.batch]]
            width = max(len(e["tokens"]) for e in chunk)
            ids = torch.zeros((len(chunk), width), dtype=torch.long)
            mask = torch.zeros((len(chunk), width), dtype=torch.long)
            labels = torch.full((len(chunk), width), -100, dtype=torch.long)
            for row, e in enumerate(chunk):
                n = len(e["tokens"])
                ids[row, :n] = torch.tensor(e["tokens"])
                mask[row, :n] = 1
                # transformers shifts labels by one inside the loss: position p's label
                # is the token at p, predicted from p - 1. The target starts at n_prompt.
                labels[row, e["n_prompt"] : n] = ids[row, e["n_prompt"] : n]
            started = time.perf_counter()
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step)
            out = model(input_ids=ids, attention_mask=mask, labels=labels)
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            seconds += time.perf_counter() - started
            tokens += int(mask.sum())
            loss = float(out.loss)
            step += 1
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"steps: {step}")
    print(f"final train loss: {loss:.4f}")
    print(f"trainable parameters: {sum(p.numel() for p in trainable)}")
    print(f"peak memory: {peak_mib:.0f} MiB")
    print(f"throughput: {tokens / seconds:.1f} tokens/s")


if __name__ == "__main__":
    main()
