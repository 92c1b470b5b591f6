#!/usr/bin/env bash
# Open a po3ad report.html in headless Chromium and check that it loads without
# JavaScript errors and that its table, curves, gallery and 3D canvas are there and
# not empty (the viewer stamps data-lit-pixels on the canvas after drawing).
#   scripts/report-check.sh RESULTS/report.html [EXPECTED_CARDS]
# Exit 0 = pass, 1 = a check failed, 3 = no chromium.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
report="$(realpath "$1")"
source "$here/report-chromium-flags.sh"
dom="$PROFILE_DIR/dom.html"; log="$PROFILE_DIR/console.log"
start=$(date +%s.%N)
"$CHROMIUM" "${CHROMIUM_FLAGS[@]}" --enable-logging=stderr --v=0 --virtual-time-budget=5000 \
  --dump-dom "file://$report" >"$dom" 2>"$log"
end=$(date +%s.%N)
echo "chromium load + dump: $(echo "$end - $start" | bc) s" >&2
python3 "$here/report_check.py" "$dom" "$log" "${2:-}"
