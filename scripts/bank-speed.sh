#!/usr/bin/env bash
# Memory-bank speed side by side: two builds of `examples/bank_bench` (e.g. before and
# after a change) fit every part and score the same 30k-point scan, one after the other
# per part, so that both see the same machine load. Prints fit and score seconds per
# part and kind, and the ratio. Only the timing lines are kept: each run is stopped as
# soon as it starts on the tracks.
#
#   scripts/bank-speed.sh OLD_BANK_BENCH NEW_BANK_BENCH ROOT [KINDS] [PARTS]
#   (ROOT: a dev benchmark written by scripts/dev-benchmark.sh; KINDS default
#    btf-fpfh,patchcore,reg-bank,btf-fpfh-ms; PARTS default all six)
set -euo pipefail
OLD=$1 NEW=$2 ROOT=$3
KINDS=${4:-btf-fpfh,patchcore,reg-bank,btf-fpfh-ms}
PARTS=${5:-Vase,cylinder,gears,plate_holes,rabbit,torus}
NKINDS=$(tr ',' '\n' <<<"$KINDS" | grep -c .)
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
times() { # binary, part -> "kind fit score" lines
  # The timing lines come before the tracks: stop the run once every kind has one.
  "$1" --root "$ROOT" --tracks aligned --parts "$2" --kinds "$KINDS" >"$LOG" 2>/dev/null &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null && [ "$(grep -c '^fit ' "$LOG")" -lt "$NKINDS" ]; do sleep 0.2; done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  awk '/^fit /{print $2, $3, $(NF-3)}' "$LOG"
}
echo "| part | kind | fit old (s) | fit new (s) | score old (s) | score new (s) | score old/new |"
echo "|---|---|---|---|---|---|---|"
for part in ${PARTS//,/ }; do
  old=$(times "$OLD" "$part")
  new=$(times "$NEW" "$part")
  join <(sort <<<"$old") <(sort <<<"$new") |
    awk -v p="$part" '{printf "| %s | %s | %.2f | %.2f | %.3f | %.3f | %.1f |\n", p, $1, $2, $4, $3, $5, $3/$5}'
done
