#!/usr/bin/env python3
"""Upper bounds for the loop on the procedural world: SFT files of judge traces on the
pool's closed prompts that are perfectly coherent, labelled either by the truth (an
oracle filter on oracle labels) or by a round's synthesized pairs (an oracle filter on
the loop's own majority-vote labels). Training the base on one and evaluating it on the
held-out pairs shows what the loop could reach with clean traces and those labels.

    scripts/world-oracle.py WORLD truth OUT.jsonl
    scripts/world-oracle.py WORLD RUN/round-1/pairs.jsonl OUT.jsonl

The trace mirrors the text-judging examples of lab/src/world/judging.rs ("The answer is X.
Answer A: a, right. Answer B: b, wrong." and the verdict on its own line); the prompt
is the world's template.json. Both orders of every pair are written.
"""
import json
import random
import sys
from pathlib import Path


def trace(stated, a, b):
    a_right = a == stated
    checks = f"Answer A: {a}, {'right' if a_right else 'wrong'}. Answer B: {b}, {'wrong' if a_right else 'right'}."
    return f"The answer is {stated}. {checks}\n[[{'A' if a_right else 'B'}]]"


def main():
    world, labels, out = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    template = json.loads((world / "template.json").read_text())
    pool = {p["id"]: p for p in map(json.loads, (world / "pool.jsonl").read_text().splitlines())}
    truth = {t["id"]: t for t in map(json.loads, (world / "truth/pool.jsonl").read_text().splitlines())}
    rng = random.Random(0)
    pairs = []  # (prompt id, better, worse)
    if labels == "truth":
        for t in truth.values():
            if t["kind"] == "closed":
                wrong = rng.choice([c for c in t["candidates"] if c != t["answer"]])
                pairs.append((t["id"], t["answer"], wrong))
    else:
        for p in map(json.loads, Path(labels).read_text().splitlines()):
            if p["kind"] == "closed":
                better, worse = (p["response_a"], p["response_b"]) if p["label"] == "A" else (p["response_b"], p["response_a"])
                pairs.append((p["id"], better, worse))
    right = sum(better == truth[i]["answer"] for i, better, _ in pairs)
    with open(out, "w") as f:
        for prompt_id, better, worse in pairs:
            prompt = pool[prompt_id]
            for order, (a, b) in (("AB", (better, worse)), ("BA", (worse, better))):
                user = template["user"].replace("{question}", prompt["question"])
                user = user.replace("{answer_a}", a).replace("{answer_b}", b)
                example = {
                    "id": f"{prompt_id}/{order}",
                    "image": str((world / prompt["image"]).resolve()),
                    "messages": [{"role": "system", "content": template["system"]}, {"role": "user", "content": user}],
                    "target": trace(better, a, b),
                }
                f.write(json.dumps(example) + "\n")
    print(f"{out}: {2 * len(pairs)} examples from {len(pairs)} pairs; the better answer is right in {right}")


if __name__ == "__main__":
    main()
