#!/usr/bin/env python3
"""How a judge's reasoning traces on the procedural world's held-out closed pairs hold
together: whether each trace quotes both answers right, states the true answer, checks
the answers against what it stated, and gives the verdict its checks imply; then the
closed pairs' accuracy, and what it would be if every check followed the stated answer.
The loop's rounds mostly close the gap between the two (docs/world-experiment.md,
attempt 12): run this on a base before running the loop. For the description pairs it
counts the traces that state the true description, that copy the answer shown as A or
as B word for word, and that call A or B right: a judge that copies one slot has a
position bias, whatever it sees.

    scripts/world-traces.py WORLD VERDICTS.jsonl

VERDICTS is `vlmjudge judge --mode reason --template WORLD/template.json` output on
WORLD/heldout.jsonl, or a round's eval-verdicts.jsonl from `vlmjudge improve`.
"""
import json
import re
import sys
from pathlib import Path

TRACE = re.compile(r"The answer is (.*?)\. Answer A: (.*?), (right|wrong)\. Answer B: (.*?), (right|wrong)\.")


def main():
    world, verdicts = Path(sys.argv[1]), Path(sys.argv[2])
    pairs = {p["id"]: p for p in map(json.loads, (world / "heldout.jsonl").read_text().splitlines())}
    truth = {t["id"]: t for t in map(json.loads, (world / "truth/heldout.jsonl").read_text().splitlines())}
    counts = dict(traces=0, parsed=0, quotes=0, stated=0, checks=0, verdict=0)
    # Per closed pair: the verdict's credit, and what its stated answers would earn.
    scored, supported = [], []
    described = dict(traces=0, true=0, copies_a=0, copies_b=0, a_right=0, b_right=0)
    for v in map(json.loads, verdicts.read_text().splitlines()):
        pair = pairs[v["id"]]
        if pair["category"] == "description":
            for order in v["orders"]:
                count_description(order, pair, truth[v["id"]]["answer"], described)
            continue
        better = pair["response_a"] if pair["label"] == "A" else pair["response_b"]
        worse = pair["response_b"] if pair["label"] == "A" else pair["response_a"]
        scored.append(1.0 if v["verdict"] == pair["label"] else 0.0 if v["verdict"] in ("A", "B") else 0.5)
        support = []
        for order in v["orders"]:
            counts["traces"] += 1
            swapped = order["order"] == "BA"
            shown_a, shown_b = shown(order, pair)
            m = TRACE.match(order["reasoning"])
            if not m:
                continue
            stated, quote_a, check_a, quote_b, check_b = m.groups()
            support.append(1.0 if stated == better else 0.0 if stated == worse else 0.5)
            counts["parsed"] += 1
            counts["quotes"] += quote_a == shown_a and quote_b == shown_b
            counts["stated"] += stated == truth[v["id"]]["answer"]
            counts["checks"] += (check_a == "right") == (quote_a == stated) and (check_b == "right") == (quote_b == stated)
            # p_a is the probability that the pair's own answer A is better, whatever the order.
            says_shown_a = check_a == "right" and check_b == "wrong"
            says_shown_b = check_b == "right" and check_a == "wrong"
            p_shown_a = 1 - order["p_a"] if swapped else order["p_a"]
            counts["verdict"] += (says_shown_a and p_shown_a > 0.5) or (says_shown_b and p_shown_a < 0.5)
        # An order whose trace has another shape supports nothing: a coin flip.
        support += [0.5] * (len(v["orders"]) - len(support))
        supported.append(sum(support) / max(len(support), 1))
    n = max(counts["traces"], 1)
    print(f"closed traces: {counts['traces']} ({counts['parsed']} in the trace's shape)")
    for key, what in [("quotes", "quote both answers right"), ("stated", "state the true answer"),
                      ("checks", "check the answers against what they stated"), ("verdict", "give the verdict their checks imply")]:
        print(f"  {what:45} {counts[key] / n:6.1%}")
    # The loop's rounds mostly make the checks follow the stated answer
    # (docs/world-experiment.md, attempt 12), so this is about where they can take the
    # judge on closed pairs.
    pairs_n = max(len(scored), 1)
    print(f"closed pairs: {len(scored)}")
    print(f"  {'accuracy (ties 0.5)':45} {sum(scored) / pairs_n:6.3f}")
    print(f"  {'the same if every check followed the trace':45} {sum(supported) / pairs_n:6.3f}")
    n = max(described["traces"], 1)
    print(f"description traces: {described['traces']}")
    for key, what in [("true", "state the true description"), ("copies_a", "copy the answer shown as A"),
                      ("copies_b", "copy the answer shown as B"), ("a_right", "call A right"), ("b_right", "call B right")]:
        print(f"  {what:45} {described[key] / n:6.1%}")


def shown(order, pair):
    """The answers as the judge saw them in this order: (shown as A, shown as B)."""
    if order["order"] == "BA":
        return pair["response_b"], pair["response_a"]
    return pair["response_a"], pair["response_b"]


def count_description(order, pair, true_description, described):
    """Adds one description trace ("The image shows: ... Answer A: right. Answer B: wrong.") to `described`."""
    shown_a, shown_b = shown(order, pair)
    reasoning = order["reasoning"]
    stated = reasoning.split("The image shows: ", 1)[-1].split(" Answer A:", 1)[0]
    described["traces"] += 1
    described["true"] += stated == true_description
    described["copies_a"] += stated == shown_a
    described["copies_b"] += stated == shown_b
    described["a_right"] += "Answer A: right." in reasoning
    described["b_right"] += "Answer B: right." in reasoning


if __name__ == "__main__":
    main()
