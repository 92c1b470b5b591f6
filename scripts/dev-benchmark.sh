#!/usr/bin/env bash
# The dev benchmark of notes/detectors.md: six real meshes from ../shared/data/meshes,
# four tracks (aligned, free-pose, one-sided partial scans aligned and free-pose) and
# five detectors: PO3AD's `cpu` default (network blended with the nearest-template
# distance, w = 0.8 for point scores, the distance alone (w = 1) for the top-1 % object
# score; the preset's values, spelled out so that models trained before session 5 are
# tested the same way), the network alone (w = 0, mean), the blend at
# w = 0.5 with the mean, nearest-template, curvature. PO3AD is trained once per
# part on the aligned track (every track of one seed has the same templates) and the
# same models are tested on every track, each scan placed by the default `--frame auto`.
#
#   scripts/dev-benchmark.sh [OUT]        # default OUT=dev-bench; ~40 min on 2 cores
#
# Results: OUT/<track>-<detector>/results.{md,csv,json}, and OUT/summary.md.
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

# Training (the only slow part): OUT/models/<part>/model/{model.po3ad,nearest.json}.
[ -f "$OUT/models/results.csv" ] || "$PO3AD" benchmark --layout anomaly-shapenet \
  --root "$OUT/data-aligned" --preset cpu --out "$OUT/models" --heatmaps 0

run() { # track, name, args...
  local track=$1 name=$2; shift 2
  [ -f "$OUT/$track-$name/results.csv" ] || "$PO3AD" benchmark --layout "$(layout "$track")" \
    --root "$OUT/data-$track" --out "$OUT/$track-$name" --heatmaps 2 "$@"
}
for track in aligned free partial partial-free; do
  run "$track" default --models "$OUT/models" --nearest-weight 0.8 --object-nearest-weight 1 \
    --object-score top_mean
  run "$track" po3ad --models "$OUT/models" --nearest-weight 0 --object-score mean
  run "$track" fused --models "$OUT/models" --nearest-weight 0.5 --object-score mean
  run "$track" nearest --model nearest
  run "$track" curvature --model curvature
done

{
  echo "| track | detector | object AUROC | point AUROC | object AP | point AP |"
  echo "|---|---|---|---|---|---|"
  for track in aligned free partial partial-free; do
    for det in default po3ad fused nearest curvature; do
      awk -F, -v t="$track" -v d="$det" '$1=="mean"{printf "| %s | %s | %.4f | %.4f | %.4f | %.4f |\n", t, d, $2, $4, $3, $5}' \
        "$OUT/$track-$det/results.csv"
    done
  done
} | tee "$OUT/summary.md"
