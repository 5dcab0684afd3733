#!/usr/bin/env bash
# The Python binding's tests: bindings/python/tests (pytest) against the installed-layout
# library DIST (scripts/build-capi.sh), then examples/python/judge.py on the demo model,
# then the package as users get it: `pip install ./bindings/python`, and a wheel built
# from it, each into a fresh virtual environment with nothing else set, judging a pair.
# Usage: scripts/test-python.sh DIST
# Environment (the Makefile exports them): VLMJUDGE_TEST_MODEL, VLMJUDGE_TEST_MMPROJ (the
# generated tiny-vlm fixture), VLMJUDGE_TEST_IMAGE (a PNG), VLMJUDGE_DEMO_MODEL. PYTHON
# picks the interpreter (default python3; /usr/bin/python3 when only it has pytest, as
# with a pyenv python3 first on PATH and Debian's python3-pytest).
set -euo pipefail
usage="usage: test-python.sh DIST"
dist=$(cd "${1:?$usage}" && pwd)
cd "$(dirname "$0")/.."
for var in VLMJUDGE_TEST_MODEL VLMJUDGE_TEST_MMPROJ VLMJUDGE_TEST_IMAGE VLMJUDGE_DEMO_MODEL; do
  if [ -z "${!var:-}" ]; then
    echo "error: $var is not set" >&2
    exit 2
  fi
done
export VLMJUDGE_LIB_DIR=$dist/lib
export PYTHONPATH=$PWD/bindings/python${PYTHONPATH:+:$PYTHONPATH}
unset VLMJUDGE_LIBRARY # it would take precedence over VLMJUDGE_LIB_DIR

python=${PYTHON:-python3}
if [ -z "${PYTHON:-}" ] && ! python3 -c 'import pytest' 2>/dev/null &&
  /usr/bin/python3 -c 'import pytest' 2>/dev/null; then
  python=/usr/bin/python3
fi
"$python" -c 'import sys; assert sys.version_info >= (3, 9), "vlmjudge needs Python >= 3.9"'

echo "== Python binding tests ($("$python" --version 2>&1), library in $VLMJUDGE_LIB_DIR)"
"$python" -m pytest -q -p no:cacheprovider bindings/python/tests

echo "== Python example (examples/python/judge.py on $VLMJUDGE_DEMO_MODEL)"
"$python" examples/python/judge.py "$VLMJUDGE_DEMO_MODEL"

# As users install it: nothing on the path, no library variables (with bindings/python
# on PYTHONPATH, pip would take its in-tree build's metadata for an installed copy).
# The package's build (bindings/python/setup.py) runs cargo in $CARGO_TARGET_DIR, so it
# reuses this build.
unset PYTHONPATH VLMJUDGE_LIB_DIR
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
repo=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fresh() { # fresh VENV: a new virtual environment, with the pip it comes with
  python3 -m venv "$1"
}
judge_in() { # judge_in VENV: the example, run from outside the checkout, as a user would
  (cd "$work" && "$1/bin/python" "$repo/examples/python/judge.py" "$VLMJUDGE_DEMO_MODEL")
  local got
  got=$(cd "$work" && "$1/bin/python" -c 'import vlmjudge; print(vlmjudge.__version__)')
  if [ "$got" != "$version" ]; then
    echo "error: the package says version $got, Cargo.toml $version" >&2
    exit 1
  fi
}
echo "== pip install ./bindings/python into a fresh virtual environment"
fresh "$work/installed"
"$work/installed/bin/pip" install --quiet ./bindings/python
judge_in "$work/installed"

echo "== a wheel built from bindings/python, installed into another"
"$work/installed/bin/pip" wheel --quiet --no-deps -w "$work/wheels" ./bindings/python
ls "$work/wheels"
fresh "$work/from-wheel"
"$work/from-wheel/bin/pip" install --quiet "$work"/wheels/vlmjudge-"$version"-py3-none-*.whl
judge_in "$work/from-wheel"
