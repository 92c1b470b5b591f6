#!/usr/bin/env bash
# The dev benchmark of notes/detectors.md: six real meshes from ../shared/data/meshes,
# five tracks and every detector kind, each against the nearest-template distance (the
# strongest simple baseline).
#
# Tracks (all `po3ad synth --seed 1`; every track of one seed has the same templates):
#   aligned       full surface scans in the training pose
#   free          the same clouds, each turned uniformly over SO(3) and shifted <= 0.5
#   partial       one-sided Real3D-AD-style views, training pose
#   partial-free  one-sided views, any pose
#   hard          one-sided views, any pose, sensor noise sigma 0.002 (the others have
#                 none) and smaller defects (severity 0-0.5 instead of 0-1)
# Detectors (DETECTORS, default "surface nearest po3ad"):
#   po3ad      PO3AD with the `cpu` preset, trained once per part on the aligned track
#              and tested on every track (its preset's test settings: point score
#              0.8 * distance + 0.2 * offsets, object score from the distance); the
#              name `default` is still taken for it (its results directories are
#              named po3ad either way)
#   any other  a registered training-free kind (`po3ad test --detector KIND`), built
#              per track from that track's training files; `surface` is the tool's
#              default detector, `nearest` the strongest simple baseline
# Every scan is placed by the default `--frame auto` (registered when the detector
# needs the training pose).
#
#   scripts/dev-benchmark.sh [OUT]        # default OUT=dev-bench; ~45 min on 2 cores
#   DETECTORS="nearest surface" TRACKS="aligned hard" scripts/dev-benchmark.sh OUT
#
# Results: OUT/<track>-<detector>/results.{md,csv,json} (with the per-defect-kind
# object AUROC in results.json / results.md), and OUT/summary.md.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-dev-bench}
MESHES=${MESHES:-"torus.STL cylinder.stl rabbit.obj Vase.stl plate_holes.STL gears.stl"}
TRACKS=${TRACKS:-"aligned free partial partial-free hard"}
DETECTORS=${DETECTORS:-"surface nearest po3ad"}
DETECTORS=${DETECTORS//default/po3ad}
PO3AD=${PO3AD:-target/release/po3ad}
SHARED=${SHARED:-../shared/data/meshes}
[ -x "$PO3AD" ] || cargo build --release
mkdir -p "$OUT"

synth_args() {
  case $1 in
    aligned) ;;
    free) echo "--pose random" ;;
    partial) echo "--layout real3d --partial" ;;
    partial-free) echo "--layout real3d --partial --pose random" ;;
    hard) echo "--layout real3d --partial --pose random --noise 0.002 --severity 0,0.5" ;;
    *) echo "unknown track $1" >&2; exit 2 ;;
  esac
}
for track in $TRACKS aligned; do
  dir="$OUT/data-$track"
  [ -d "$dir" ] && continue
  # shellcheck disable=SC2046
  for m in $MESHES; do "$PO3AD" synth --mesh "$SHARED/$m" --out "$dir" --seed 1 $(synth_args "$track") >/dev/null; done
done

run() { # track, name, args...
  local track=$1 name=$2; shift 2
  [ -f "$OUT/$track-$name/results.csv" ] || "$PO3AD" benchmark \
    --root "$OUT/data-$track" --out "$OUT/$track-$name" --heatmaps 2 "$@"
}
for det in $DETECTORS; do
  if [ "$det" = po3ad ]; then
    # Training (the only slow part): OUT/models/<part>/model.
    [ -f "$OUT/models/results.csv" ] || "$PO3AD" benchmark --root "$OUT/data-aligned" \
      --preset cpu --out "$OUT/models" --heatmaps 0
    for track in $TRACKS; do run "$track" po3ad --reuse-models "$OUT/models"; done
  else
    for track in $TRACKS; do run "$track" "$det" --detector "$det"; done
  fi
done

{
  echo "| track | detector | object AUROC | point AUROC | object AP | point AP |"
  echo "|---|---|---|---|---|---|"
  for track in $TRACKS; do
    for det in $DETECTORS; do
      awk -F, -v t="$track" -v d="$det" '$1=="mean"{printf "| %s | %s | %.4f | %.4f | %.4f | %.4f |\n", t, d, $2, $4, $3, $5}' \
        "$OUT/$track-$det/results.csv"
    done
  done
  echo
  echo "Object AUROC by defect kind (mean of the parts):"
  echo
  python3 - "$OUT" "$TRACKS" "$DETECTORS" <<'PY'
import json, sys
out, tracks, dets = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
kinds = ["bulge", "concavity", "crack", "scratch", "hole", "broken"]
print("| track | detector | " + " | ".join(kinds) + " |")
print("|---|---|" + "---:|" * len(kinds))
for t in tracks:
    for d in dets:
        mean = json.load(open(f"{out}/{t}-{d}/results.json"))["mean"].get("by_defect", {})
        cells = [f"{mean[k]:.3f}" if k in mean else "–" for k in kinds]
        print(f"| {t} | {d} | " + " | ".join(cells) + " |")
PY
} | tee "$OUT/summary.md"
