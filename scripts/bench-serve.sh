#!/usr/bin/env bash
# Throughput and latency of `po3ad serve` on 30k-point scans with the `cpu` model
# (issue #14). Usage: scripts/bench-serve.sh WORKDIR [MODEL_DIR]
#   WORKDIR    scratch folder (data, model, logs)
#   MODEL_DIR  an already trained model to reuse (else: train `--preset cpu`, ~5 min)
# Prints, per load level, scans/s and latency percentiles, plus the server's RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:?usage: bench-serve.sh WORKDIR [MODEL_DIR]}
mkdir -p "$work"
cargo build --release --quiet
bin=$PWD/target/release/po3ad
if [ ! -d "$work/data/pcd/vase" ]; then
  "$bin" synth --builtin vase --out "$work/data" --points 30000 --n-good 4 \
    --n-per-defect 1 --defects bulge,hole,crack --seed 7 >/dev/null
fi
model=${2:-$work/model}
if [ ! -f "$model/model.po3ad" ]; then
  "$bin" train --preset cpu --out "$model" --layout anomaly-shapenet \
    --root "$work/data" --category vase
fi
scans=("$work"/data/pcd/vase/test/*.pcd)
for workers in 1 2; do
  "$bin" serve --model "$model" --addr 127.0.0.1:0 --workers "$workers" --queue 64 \
    >"$work/serve.out" 2>"$work/serve.err" &
  pid=$!
  for _ in $(seq 100); do grep -q listening "$work/serve.out" && break; sleep 0.1; done
  addr=$(grep -o 'http://[0-9.:]*' "$work/serve.out" | sed 's#http://##')
  echo "== workers $workers ($(nproc) CPUs), ${#scans[@]} scans of ~30k points"
  python3 scripts/bench-serve-load.py "$addr" 1 10 "${scans[@]}" >/dev/null # warm-up
  for clients in 1 4 8; do
    python3 scripts/bench-serve-load.py "$addr" "$clients" 10 "${scans[@]}"
  done
  echo "server RSS: $(awk '/VmRSS/ {print $2 / 1024 " MiB"}' /proc/$pid/status)"
  kill -TERM "$pid"; wait "$pid"
done
