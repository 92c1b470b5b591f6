#!/usr/bin/env bash
# Side by side on whole 30k-point scans (issues #21 / #26): po3ad's
# registration::register and Open3D's FPFH + RANSAC + point-to-plane ICP on the same
# scans (fresh 30k-point samples of each part's first training mesh in random poses),
# both measured against the true pose by the register_30k example.
#
#   scripts/register-compare-30k.sh OUT TRACK_DIR [POSES]   (e.g. /work/devdata/data-aligned 8)
#
# Needs a Python with open3d (PYTHON=/work/venv-reg/bin/python by default).
# Results: OUT/compare.txt (a table per part and method), OUT/open3d.csv.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=$1; TRACK=$2; POSES=${3:-8}
PYTHON=${PYTHON:-/work/venv-reg/bin/python}
THREADS=${THREADS:-2}
mkdir -p "$OUT"
cargo build --release -p po3ad-core --example register_30k
BIN=target/release/examples/register_30k
REG_EXPORT="$OUT/export" "$BIN" "$TRACK" "$POSES" > /dev/null
OMP_NUM_THREADS=$THREADS "$PYTHON" scripts/open3d_register_bench.py "$OUT/export" > "$OUT/open3d.csv"
RAYON_NUM_THREADS=$THREADS REG_EXTERNAL="$OUT/open3d.csv" "$BIN" "$TRACK" "$POSES" | tee "$OUT/compare.txt"
