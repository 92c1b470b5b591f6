#!/usr/bin/env bash
# The dev benchmark of notes/detectors.md: six real meshes from ../shared/data/meshes,
# four tracks (aligned, free-pose, one-sided partial scans aligned and free-pose), three
# detectors (PO3AD `cpu`, nearest-template, curvature). PO3AD is trained once per part
# (on the aligned track's templates; every track shares the templates of its seed) and
# the same models are tested on every track.
#
#   scripts/dev-benchmark.sh [OUT]        # default OUT=dev-bench; ~45 min on 2 cores
#
# Results: OUT/<track>-<detector>/results.md (+ .csv/.json), and OUT/summary.md.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-dev-bench}
MESHES=${MESHES:-"torus.STL cylinder.stl rabbit.obj Vase.stl plate_holes.STL gears.stl"}
PO3AD=${PO3AD:-target/release/po3ad}
SHARED=${SHARED:-../shared/data/meshes}
[ -x "$PO3AD" ] || cargo build --release
mkdir -p "$OUT"

synth() { # track, extra args
  local dir="$OUT/data-$1"; shift
  [ -d "$dir" ] && return 0
  for m in $MESHES; do "$PO3AD" synth --mesh "$SHARED/$m" --out "$dir" --seed 1 "$@" >/dev/null; done
}
synth aligned
synth free --pose random
synth partial --layout real3d --partial
synth partial-free --layout real3d --partial --pose random

layout() { case $1 in partial*) echo real3d ;; *) echo anomaly-shapenet ;; esac; }

for track in aligned free partial partial-free; do
  for det in nearest curvature; do
    [ -f "$OUT/$track-$det/results.csv" ] || "$PO3AD" benchmark --layout "$(layout $track)" \
      --root "$OUT/data-$track" --model "$det" --out "$OUT/$track-$det" --heatmaps 0
  done
  if [ "$track" = aligned ]; then
    [ -f "$OUT/aligned-po3ad/results.csv" ] || "$PO3AD" benchmark --layout anomaly-shapenet \
      --root "$OUT/data-aligned" --preset cpu --out "$OUT/aligned-po3ad" --heatmaps 2
  else
    [ -f "$OUT/$track-po3ad/results.csv" ] || "$PO3AD" benchmark --layout "$(layout $track)" \
      --root "$OUT/data-$track" --models "$OUT/aligned-po3ad" --out "$OUT/$track-po3ad" --heatmaps 2
  fi
done

{
  echo "| track | detector | object AUROC | point AUROC |"
  echo "|---|---|---|---|"
  for track in aligned free partial partial-free; do
    for det in po3ad nearest curvature; do
      awk -F, -v t="$track" -v d="$det" '$1=="mean"{printf "| %s | %s | %.4f | %.4f |\n", t, d, $2, $4}' \
        "$OUT/$track-$det/results.csv"
    done
  done
} | tee "$OUT/summary.md"
