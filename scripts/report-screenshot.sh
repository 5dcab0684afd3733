#!/usr/bin/env bash
# Renders RUN/report.html in headless Chromium and writes a screenshot of the page, to
# look at it as a reader would (the charts inline, the table, nothing fetched).
# Usage: scripts/report-screenshot.sh RUN [OUT.png] [WIDTHxHEIGHT]
# Needs Chromium (Debian: apt-get install chromium).
set -euo pipefail
usage="usage: report-screenshot.sh RUN [OUT.png] [WIDTHxHEIGHT]"
run=$(cd "${1:?$usage}" && pwd)
out=${2:-$run/report-screenshot.png}
size=${3:-1400x2600}
if [ ! -f "$run/report.html" ]; then
  echo "error: $run/report.html does not exist (run: vlmjudge report $run)" >&2
  exit 1
fi
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$browser" ]; then
  echo "error: no Chromium found (Debian: apt-get install chromium)" >&2
  exit 2
fi
# --no-sandbox: root in a container has no user namespace for Chromium's sandbox.
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size="${size/x/,}" \
  --screenshot="$out" "file://$run/report.html" 2>/dev/null
echo "$out"
