#!/usr/bin/env bash
# Side-by-side training-step throughput: po3ad's MinkUNet34C (`paper` preset network, B = 4)
# against the plain-PyTorch peer (scripts/peers/minkunet_torch.py, same network + head),
# on the same four 15 000-point clouds, in alternation (po3ad, torch, torch, po3ad, ...) so
# drift in the machine's load favours neither. Issue #13's target: ratio ≥ 2, po3ad CPU ≥ 190 %.
#
# Usage: scripts/bench-step-vs-torch.sh [ROUNDS] [STEPS]
# Env: PYTHON (a python with torch + numpy; default python3), PEER (the peer script),
#      PO3AD (a po3ad binary; default: cargo build --release, target in CARGO_TARGET_DIR),
#      THREADS (default 2: RAYON_NUM_THREADS for po3ad, --threads for torch),
#      BEFORE (optional: another po3ad binary, e.g. built from an older commit, timed in the
#      same rounds as a third column; it must have `po3ad profile`).
# po3ad: `po3ad profile --preset paper --batch-size 4 --steps STEPS --rounds 1`, its
# "pipelined" column (what `po3ad train` runs): clouds/s and process CPU use over the timed
# steps. torch: the peer's `train_samples_s` (median step of STEPS after 2 warm-ups; kernel
# maps built outside the step) and the child process's CPU use over its whole run.
set -euo pipefail
ROUNDS=${1:-2}
STEPS=${2:-3}
here=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3}
PEER=${PEER:-$here/scripts/peers/minkunet_torch.py}
THREADS=${THREADS:-2}
if [[ -z "${PO3AD:-}" ]]; then
  (cd "$here" && cargo build --release --quiet)
  PO3AD=${CARGO_TARGET_DIR:-$here/target}/release/po3ad
fi
[[ -f "$PEER" ]] || { echo "peer script not found: $PEER" >&2; exit 1; }
"$PYTHON" -c 'import torch, numpy' || { echo "$PYTHON lacks torch/numpy" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The clouds: po3ad profile's four templates (surface samples of the built-in vase), as OBJ.
RAYON_NUM_THREADS=$THREADS "$PO3AD" profile --preset paper --steps 1 --warmup 0 --rounds 1 \
  --no-checkpoint --export-obj "$work/obj" > "$work/export.log"
cats=(vase0 vase1 vase2 vase3)

run_po3ad() {
  local bin=${1:-$PO3AD}
  RAYON_NUM_THREADS=$THREADS "$bin" profile --preset paper --batch-size 4 --steps "$STEPS" \
    --warmup 1 --rounds 1 --no-checkpoint > "$work/po3ad.log"
  # "| clouds/s | serial | | pipelined | |", "| CPU use (process) | s % | | p % | |"
  local cps cpu vox
  cps=$(awk -F'|' '/^\| clouds\/s/ {gsub(/ /,"",$5); print $5}' "$work/po3ad.log")
  cpu=$(awk -F'|' '/^\| CPU use/ {gsub(/ |%/,"",$5); print $5}' "$work/po3ad.log")
  vox=$(awk '/voxels and/ {print $1}' "$work/po3ad.log")
  echo "po3ad $cps $cpu $vox"
}

run_torch() {
  local t0 c0 t1 c1
  /usr/bin/time -f "%e %U %S" -o "$work/time.txt" env OBJ_DIR="$work/obj" "$PYTHON" "$PEER" \
    --device cpu --batch 4 --threads "$THREADS" --steps "$STEPS" --cats "${cats[@]}" \
    > "$work/torch.log" 2>&1
  "$PYTHON" - "$work/torch.log" "$work/time.txt" <<'PY'
import json, sys
r = [json.loads(l[7:]) for l in open(sys.argv[1]) if l.startswith("RESULT ")][0]
e, u, s = map(float, open(sys.argv[2]).read().split()[-3:])
print(f"torch {r['train_samples_s']} {100 * (u + s) / e:.0f} {r['voxels'][0]}")
PY
}

printf '| round | po3ad clouds/s | po3ad CPU %% | torch clouds/s | torch CPU %% (whole run) | ratio | voxels po3ad / torch | before: clouds/s, CPU %%, ratio |\n'
printf '|---|---:|---:|---:|---:|---:|---|---|\n'
sum_p=0; sum_t=0
for r in $(seq 1 "$ROUNDS"); do
  before="-"
  if (( r % 2 == 1 )); then
    a=$(run_po3ad); b=$(run_torch); [[ -n "${BEFORE:-}" ]] && before=$(run_po3ad "$BEFORE")
  else
    [[ -n "${BEFORE:-}" ]] && before=$(run_po3ad "$BEFORE"); b=$(run_torch); a=$(run_po3ad)
  fi
  read -r _ pc pu pv <<< "$a"
  read -r _ tc tu tv <<< "$b"
  ratio=$(awk -v p="$pc" -v t="$tc" 'BEGIN {printf "%.2f", p / t}')
  if [[ "$before" != "-" ]]; then
    read -r _ bc bu _ <<< "$before"
    before="$bc, $bu %, $(awk -v p="$bc" -v t="$tc" 'BEGIN {printf "%.2f", p / t}')×"
  fi
  printf '| %d | %s | %s | %s | %s | %s× | %s / %s | %s |\n' "$r" "$pc" "$pu" "$tc" "$tu" "$ratio" "$pv" "$tv" "$before"
  sum_p=$(awk -v a="$sum_p" -v b="$pc" 'BEGIN {print a + b}')
  sum_t=$(awk -v a="$sum_t" -v b="$tc" 'BEGIN {print a + b}')
done
awk -v p="$sum_p" -v t="$sum_t" -v n="$ROUNDS" \
  'BEGIN {printf "\nmean: po3ad %.2f clouds/s, torch %.2f clouds/s, ratio %.2f× (%d rounds, load average at end: ", p/n, t/n, p/t, n}'
cut -d' ' -f1-3 /proc/loadavg | tr '\n' ')'; echo
