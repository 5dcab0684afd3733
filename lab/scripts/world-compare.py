#!/usr/bin/env python3
"""Every round of `vlmjudge improve` runs on the world's held-out pairs, with 95%
confidence intervals: each round's accuracy (overall and per category), and its
paired difference from round 0 (the same pairs judged by the base), with its z. Then,
for the closed questions and for the descriptions (every order judged), what the
judge's reasoning says: how often the answer it states is the true one, and how often
its marks of the two answers follow the answer it states (a judge that has learned to
check scores near 100% on the second however it reads the image).

    lab/scripts/world-compare.py WORLD RUN [RUN ...]

A pair scores 1 when the swap-combined verdict names the label, 0 when it names the
other response, and 0.5 for a tie (the two orders disagree), as `vlmjudge eval` does.
"""
import json
import math
import re
import sys
from pathlib import Path


def scores(round_dir, labels):
    out = {}
    for line in (round_dir / "eval-verdicts.jsonl").read_text().splitlines():
        v = json.loads(line)
        label = labels[v["id"]]
        out[v["id"]] = 0.5 if v["verdict"] == "tie" else float(v["verdict"] == label)
    return out


def reasoning(round_dir, pairs):
    """{"closed" or "description": [stated answer true, marks follow it, orders read]},
    each order's reasoning read once.

    The reasoning is the template's trace: closed "The answer is X. Answer A: a, right.
    Answer B: b, wrong.", open "The image shows: D Answer A: right. Answer B: wrong."
    An order whose reasoning has another shape counts as read, with neither.
    """
    tally = {}
    for line in (round_dir / "eval-verdicts.jsonl").read_text().splitlines():
        v = json.loads(line)
        pair = pairs[v["id"]]
        kind = "description" if pair["category"] == "description" else "closed"
        truth = (pair["response_a"] if pair["label"] == "A" else pair["response_b"]).strip()
        counts = tally.setdefault(kind, [0, 0, 0])
        for order in v["orders"]:
            counts[2] += 1
            read = read_trace(order, pair, kind)
            if read is None:
                continue
            stated, a, mark_a, b, mark_b = read
            counts[0] += stated == truth
            counts[1] += mark_a == ("right" if a == stated else "wrong") and mark_b == (
                "right" if b == stated else "wrong")
    return tally


def read_trace(order, pair, kind):
    """(stated, answer A, its mark, answer B, its mark), stripped, or None."""
    text = order.get("reasoning") or ""
    if kind == "closed":
        m = CLOSED_TRACE.match(text)
        return m and tuple(g.strip() for g in m.groups())
    m = OPEN_TRACE.match(text)
    if not m:
        return None
    stated, mark_a, mark_b = m.groups()
    a, b = pair["response_a"], pair["response_b"]
    if order["order"] == "BA":
        a, b = b, a
    return stated.strip(), a.strip(), mark_a, b.strip(), mark_b


CLOSED_TRACE = re.compile(r"The answer is (.*?)\. Answer A: (.*?), (right|wrong)\. Answer B: (.*?), (right|wrong)\.")
OPEN_TRACE = re.compile(r"The image shows: (.*) Answer A: (right|wrong)\. Answer B: (right|wrong)\.", re.S)


def mean_ci(xs):
    n = len(xs)
    m = sum(xs) / n
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / max(n - 1, 1))
    return m, 1.96 * sd / math.sqrt(n)


def main():
    world = Path(sys.argv[1])
    pairs = [json.loads(l) for l in (world / "heldout.jsonl").read_text().splitlines()]
    labels = {p["id"]: p["label"] for p in pairs}
    by_id = {p["id"]: p for p in pairs}
    for run in map(Path, sys.argv[2:]):
        rounds = sorted((d for d in run.glob("round-*") if (d / "eval-verdicts.jsonl").is_file()),
                        key=lambda d: int(d.name.split("-")[1]))
        if not rounds:
            continue
        base = scores(rounds[0], labels)
        print(f"{run.name}: n = {len(base)}")
        for d in rounds:
            s = scores(d, labels)
            ids = sorted(set(s) & set(base))
            m, h = mean_ci([s[i] for i in ids])
            line = f"  {d.name}: {m:.3f} ± {h:.3f}"
            if d != rounds[0]:
                diffs = [s[i] - base[i] for i in ids]
                dm, dh = mean_ci(diffs)
                z = dm / (dh / 1.96) if dh > 0 else float("nan")
                line += f"   vs round 0: {dm:+.3f} ± {dh:.3f} (z {z:+.1f})"
            tally = reasoning(d, by_id)
            for kind in ("closed", "description"):
                stated_true, follows, orders = tally.get(kind, (0, 0, 0))
                if orders:
                    line += (f"\n    {kind} orders: stated answer true {100 * stated_true / orders:.1f}%,"
                             f" checks follow it {100 * follows / orders:.1f}%")
            print(line)
            by_category = {}
            for i in ids:
                by_category.setdefault(by_id[i]["category"], []).append(s[i])
            print("    " + ", ".join(f"{c} {sum(v) / len(v):.3f}" for c, v in sorted(by_category.items())))


if __name__ == "__main__":
    main()
