"""Builds the vlmjudge C library into the package, so `pip install ./bindings/python`
(or a wheel built from it) works with nothing else installed.

The library is the crate two folders up, built as apps get it (`cargo build --release
--locked --lib --no-default-features`: the runtime without the CLI and hub client) in
`$CARGO_TARGET_DIR` (default: the checkout's `target/`), and copied stripped into the
package as `vlmjudge/libvlmjudge.so` (`.dylib` on macOS), where the loader looks first
after the environment variables. `VLMJUDGE_BUNDLE_LIBRARY=/path/to/libvlmjudge.so`
bundles a library built elsewhere instead (`make capi`, a CUDA build). Either way the
wheel is platform-specific. Building needs a Rust toolchain (rustup.rs), CMake and a
C/C++ compiler, as the crate does; the first build takes minutes (llama.cpp).
"""

import os
import shutil
import subprocess
import sys

from setuptools import setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
CRATE = os.path.normpath(os.path.join(HERE, "..", ".."))
LIBRARY_FILE = "libvlmjudge.dylib" if sys.platform == "darwin" else "libvlmjudge.so"


def built_library() -> str:
    """The path of a library to bundle: the one named by the environment, or the
    crate's, built now."""
    given = os.environ.get("VLMJUDGE_BUNDLE_LIBRARY")
    if given:
        if not os.path.isfile(given):
            raise SystemExit(f"VLMJUDGE_BUNDLE_LIBRARY={given}: no such file")
        return given
    if not os.path.isfile(os.path.join(CRATE, "Cargo.toml")):
        raise SystemExit(
            f"the vlmjudge crate is not at {CRATE}: build from a checkout of the repository, "
            "or set VLMJUDGE_BUNDLE_LIBRARY to a built libvlmjudge"
        )
    if shutil.which("cargo") is None:
        raise SystemExit("building the vlmjudge library needs cargo (https://rustup.rs)")
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(CRATE, "target")
    if not os.path.isabs(target):
        target = os.path.join(CRATE, target)
    cmd = ["cargo", "build", "--release", "--locked", "--lib", "--no-default-features"]
    print("building the vlmjudge library:", " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, cwd=CRATE, check=True, env={**os.environ, "CARGO_TARGET_DIR": target})
    return os.path.join(target, "release", LIBRARY_FILE)


class BuildWithLibrary(build_py):
    """`build_py` that also puts the C library in the package."""

    def run(self) -> None:
        super().run()
        dest = os.path.join(self.build_lib, "vlmjudge", LIBRARY_FILE)
        shutil.copyfile(built_library(), dest)
        if shutil.which("strip") and sys.platform.startswith("linux"):
            subprocess.run(["strip", "--strip-unneeded", dest], check=True)


class PlatformWheel(bdist_wheel):
    """The wheel holds a native library, so it is tagged for the platform; the library
    does not use Python's C API, so any Python 3 takes it (`py3-none-<platform>`)."""

    def finalize_options(self) -> None:
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self):
        _, _, platform = super().get_tag()
        return "py3", "none", platform


setup(cmdclass={"build_py": BuildWithLibrary, "bdist_wheel": PlatformWheel})
