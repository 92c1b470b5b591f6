#!/usr/bin/env bash
# Open every report.html under a results folder in headless Chromium (report-check.sh)
# and print its size, the time its scripts finished after navigation start
# (performance.now() at data-ready) and the check's verdict.
#   scripts/report-open-time.sh RESULTS_DIR
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
find "$1" -name report.html | sort | while read -r f; do
  out="$(bash "$here/report-check.sh" "$f" 2>&1 || true)"
  ms="$(echo "$out" | sed -n 's/^scripts done \([0-9?]*\) ms.*/\1/p')"
  wall="$(echo "$out" | sed -n 's/^chromium load + dump: \(.*\) s/\1/p')"
  printf '%-60s %8d bytes  ready %5s ms  chromium wall %s s  %s\n' "$f" "$(stat -c %s "$f")" "$ms" "$wall" "$(echo "$out" | tail -1)"
done
