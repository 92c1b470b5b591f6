#!/usr/bin/env bash
# Side by side: po3ad's registration::register and Open3D's FPFH + RANSAC + ICP on the
# same placed scans, both measured against the true pose by register_eval.
#
#   scripts/register-compare.sh OUT TRACK_ROOT...     (e.g. /work/devdata/data-*)
#
# Needs a Python with open3d (PYTHON=/work/venv-reg/bin/python by default).
# Results: OUT/compare.txt (tables), OUT/register_eval.csv (per scan, both methods).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=$1; shift
PYTHON=${PYTHON:-/work/venv-reg/bin/python}
THREADS=${THREADS:-2}
mkdir -p "$OUT"
cargo build --release -p po3ad-core --example register_eval
EVAL=target/release/examples/register_eval
REG_EXPORT="$OUT/export" REG_EXPORT_ONLY=1 "$EVAL" "$@" > /dev/null
OMP_NUM_THREADS=$THREADS "$PYTHON" scripts/open3d_register_bench.py "$OUT/export" > "$OUT/open3d.csv"
RAYON_NUM_THREADS=$THREADS REG_EXTERNAL="$OUT/open3d.csv" REG_OUT="$OUT/register_eval.csv" \
  "$EVAL" "$@" | tee "$OUT/compare.txt"
