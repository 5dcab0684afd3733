#!/usr/bin/env bash
# The Python binding's tests: bindings/python/tests (pytest) against the installed-layout
# library DIST (scripts/build-capi.sh), then examples/python/judge.py on the demo model.
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
