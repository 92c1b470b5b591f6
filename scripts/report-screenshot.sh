#!/usr/bin/env bash
# Screenshots of a po3ad report.html in headless Chromium: the top (summary, curves),
# the 3D viewer and the gallery (the page's ?only=SECTION shows one section).
#   scripts/report-screenshot.sh RESULTS/report.html OUT_DIR [PREFIX]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
report="$(realpath "$1")"; out="$2"; prefix="${3:-report}"
mkdir -p "$out"
source "$here/report-chromium-flags.sh"
shot() { # name anchor width height
  "$CHROMIUM" "${CHROMIUM_FLAGS[@]}" --window-size="$3,$4" --virtual-time-budget=4000 \
    --screenshot="$out/$prefix-$1.png" "file://$report$2" >/dev/null 2>&1
  echo "$out/$prefix-$1.png"
}
shot top "" 1400 1250
shot viewer "?only=viewer-section" 1400 700
shot gallery "?only=gallery-section" 1400 1100
