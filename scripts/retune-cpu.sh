#!/usr/bin/env bash
# Candidates for the `cpu` preset (issue #13, item 4) on the aligned track of the dev
# benchmark (notes/detectors.md: six real meshes, `po3ad synth --seed 1`). Each candidate
# is presets/cpu.toml with some `key = value` lines replaced; it is trained and tested on
# all six parts with its own test settings (the default fused score), then the same models
# are tested with the network alone (w = 0, mean object score). The nearest-template
# detector, the bar to beat, is run once.
#
#   scripts/retune-cpu.sh OUT [NAME:key=value,key=value ...]
#   scripts/retune-cpu.sh retune base e120:epochs=120 w50:width=0.5,epochs=90
#
# With no candidates: base (the preset as it is). Results: OUT/summary.md (mean over the
# parts and mean training seconds per part), OUT/<name>/results.csv per candidate.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:?usage: scripts/retune-cpu.sh OUT [NAME:key=value,...]}
shift
CANDIDATES=("$@")
[ ${#CANDIDATES[@]} -gt 0 ] || CANDIDATES=(base)
MESHES=${MESHES:-"torus.STL cylinder.stl rabbit.obj Vase.stl plate_holes.STL gears.stl"}
PO3AD=${PO3AD:-target/release/po3ad}
SHARED=${SHARED:-../shared/data/meshes}
[ -x "$PO3AD" ] || cargo build --release
mkdir -p "$OUT"
data="$OUT/data-aligned"
if [ ! -d "$data" ]; then
  for m in $MESHES; do "$PO3AD" synth --mesh "$SHARED/$m" --out "$data" --seed 1 >/dev/null; done
fi

bench() { # out, args...
  local out=$1; shift
  [ -f "$out/results.csv" ] || "$PO3AD" benchmark --layout anomaly-shapenet --root "$data" \
    --out "$out" --heatmaps 0 "$@" >/dev/null
}
bench "$OUT/nearest" --model nearest

for cand in "${CANDIDATES[@]}"; do
  name=${cand%%:*}
  preset="$OUT/$name.toml"
  cp presets/cpu.toml "$preset"
  if [[ "$cand" == *:* ]]; then
    IFS=, read -r -a edits <<< "${cand#*:}"
    for e in "${edits[@]}"; do
      key=${e%%=*}
      grep -q "^$key = " "$preset" || { echo "no '$key' in presets/cpu.toml" >&2; exit 1; }
      sed -i -E "s|^$key = .*|$key = ${e#*=}|" "$preset"
    done
  fi
  bench "$OUT/$name" --preset "$preset"
  bench "$OUT/$name-net" --preset "$preset" --models "$OUT/$name" --nearest-weight 0 --object-score mean
done

{
  echo "| candidate | score | object AUROC | point AUROC | object AP | point AP | train s per part |"
  echo "|---|---|---:|---:|---:|---:|---:|"
  row() { # label, score, dir, train dir
    local train
    train=$(awk -F, '$1!="category" && $1!="mean" {s+=$6; n++} END {printf "%.0f", n ? s/n : 0}' "$4/results.csv")
    awk -F, -v c="$1" -v s="$2" -v t="$train" \
      '$1=="mean" {printf "| %s | %s | %.4f | %.4f | %.4f | %.4f | %s |\n", c, s, $2, $4, $3, $5, t}' "$3/results.csv"
  }
  row nearest "distance to the templates" "$OUT/nearest" "$OUT/nearest"
  for cand in "${CANDIDATES[@]}"; do
    name=${cand%%:*}
    row "$cand" "preset's (fused)" "$OUT/$name" "$OUT/$name"
    row "$cand" "network alone" "$OUT/$name-net" "$OUT/$name"
  done
} | tee "$OUT/summary.md"
