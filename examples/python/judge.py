#!/usr/bin/env python3
"""Judges one pair with the vlmjudge Python binding and prints the verdict.

usage: judge.py [MODEL.gguf]    (default: $VLMJUDGE_DEMO_MODEL)
Needs the package: pip install ./bindings/python (or bindings/python on PYTHONPATH and
the library, e.g. VLMJUDGE_LIB_DIR=DIST/lib).
"""

import os
import sys

import vlmjudge

QUESTION = "How many legs does a cat have?"
A, B = "A cat has four legs.", "A cat has seven legs."


def main() -> int:
    path = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("VLMJUDGE_DEMO_MODEL")
    if not path:
        sys.exit("usage: judge.py MODEL.gguf (or set VLMJUDGE_DEMO_MODEL)")
    try:
        with vlmjudge.Model(path) as model, vlmjudge.Judge(model) as judge:
            v = judge.judge(QUESTION, A, B, id="cat-legs")
    except vlmjudge.VlmjudgeError as e:
        sys.exit(f"error: {e}")
    print(f"question:   {QUESTION}\nA:          {A}\nB:          {B}")
    if not v.ok:
        sys.exit(f"error: {v.error}")
    consistent = {True: "yes", False: "no", None: "n/a"}[v.consistent]
    print(f"verdict:    {v.choice}   p(A) = {v.p_a:.3f}   consistent: {consistent}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
