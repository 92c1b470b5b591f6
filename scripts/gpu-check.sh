#!/usr/bin/env bash
# GPU checks for po3ad, on a machine with an NVIDIA GPU and only the prebuilt binaries
# (no Rust toolchain, no registry): build them first with scripts/gpu-prepare.sh, which
# fills gpu-bundle/. Steps:
#   (a) the CUDA-vs-CPU sparse conv and model agreement tests (tests/gpu_conv.rs);
#   (b) a synthetic 'vase' category, then a timed `po3ad train --preset paper --epochs 2`
#       on the GPU while nvidia-smi samples memory in the background;
#   (c) `po3ad test` of that model on the GPU and on the CPU, per-sample scores compared;
#   (e) the PyTorch peer of the paper step (B = 32), if the bundle has it and torch imports;
#   (d) a short table: clouds/s, projected minutes for 1000 epochs, GPU memory peak,
#       max CPU-vs-CUDA score difference, the peer's result line.
# Exit status: 0 when every step passed, 1 otherwise (the table is printed either way).
#
# Settings (environment):
#   PO3AD_CHECK_DEVICE=cuda    cuda (default), or cpu for a dry run of the plumbing on a
#                              machine without a GPU (skips (a) and nvidia-smi)
#   PO3AD_CHECK_PRESET=paper   training preset (the dry run wants `tiny`)
#   PO3AD_CHECK_EPOCHS=2       training epochs (at least 2: the second one is timed alone)
#   PO3AD_CHECK_TRAIN_TIMEOUT=330  seconds before training is stopped
#   PO3AD_CHECK_REPEAT=16      train.repeat for the timed run (paper: 100, i.e. 384 clouds
#                              per epoch, which the first H200 run could not finish in
#                              330 s); 16 gives 64 clouds (2 steps of 32) per epoch. 0 keeps
#                              the preset's own. The projection scales to the paper's epoch.
#   PO3AD_GPU_TOL=2e-3         relative tolerance of the agreement tests (tests/gpu_conv.rs)
#   GPU_BUNDLE=gpu-bundle      where the binaries are
# Results go to $OUT when it is set (the device tool brings that folder back), else to
# the work folder the script prints.
set -uo pipefail
cd "$(dirname "$0")/.."

DEVICE=${PO3AD_CHECK_DEVICE:-cuda}
PRESET=${PO3AD_CHECK_PRESET:-paper}
EPOCHS=${PO3AD_CHECK_EPOCHS:-2}
TRAIN_TIMEOUT=${PO3AD_CHECK_TRAIN_TIMEOUT:-330}
REPEAT=${PO3AD_CHECK_REPEAT:-16}
BUNDLE=${GPU_BUNDLE:-gpu-bundle}
PAPER_EPOCHS=1000
PAPER_CLOUDS_PER_EPOCH=400 # 4 samples x repeat 100 (the last partial batch is dropped: 384 trained)

die() {
    echo "gpu-check: $*" >&2
    exit 2
}
now() { date +%s.%N; }
# a - b, printed with 1 decimal (awk: no bc on every machine).
minus() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a - b }'; }

case "$DEVICE" in
cuda | cpu) ;;
*) die "PO3AD_CHECK_DEVICE must be cuda or cpu, not '$DEVICE'" ;;
esac
[ "$EPOCHS" -ge 2 ] 2>/dev/null || die "PO3AD_CHECK_EPOCHS must be at least 2 (got '$EPOCHS')"

if [ "$DEVICE" = cuda ]; then
    command -v nvidia-smi >/dev/null 2>&1 ||
        die "nvidia-smi not found: no NVIDIA driver on this machine. Run this on a GPU machine, or PO3AD_CHECK_DEVICE=cpu PO3AD_CHECK_PRESET=tiny for a dry run."
    nvidia-smi -L >/dev/null 2>&1 || die "nvidia-smi finds no GPU: $(nvidia-smi -L 2>&1 | head -1)"
    # burn compiles its kernels at run time with NVRTC, which ships with the CUDA toolkit
    # (or PyTorch's pip wheels), not with the driver: make sure the loader can find it.
    if ! ldconfig -p 2>/dev/null | grep -q 'libnvrtc\.so'; then
        nvrtc=$(find /usr/local /opt /usr/lib -name 'libnvrtc.so*' 2>/dev/null | sort | head -1)
        [ -n "$nvrtc" ] || die "libnvrtc.so not found (CUDA toolkit missing); burn needs it to compile kernels"
        export LD_LIBRARY_PATH="$(dirname "$nvrtc")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    fi
fi

# The binaries, unpacked if gpu-prepare.sh had to compress them.
BIN=$(mktemp -d /tmp/po3ad-gpu-bin.XXXXXX)
for name in po3ad gpu_conv; do
    if [ -f "$BUNDLE/$name" ]; then
        cp "$BUNDLE/$name" "$BIN/$name"
    elif [ -f "$BUNDLE/$name.xz" ]; then
        xz -dc "$BUNDLE/$name.xz" >"$BIN/$name"
    else
        die "$BUNDLE/$name missing: run scripts/gpu-prepare.sh on the build machine and carry $BUNDLE"
    fi
    chmod +x "$BIN/$name"
done
PO3AD="$BIN/po3ad"

WORK=$(mktemp -d /tmp/po3ad-gpu-check.XXXXXX)
RESULTS=${OUT:-$WORK}
mkdir -p "$RESULTS"
LOG="$RESULTS/gpu-check.log"
exec > >(tee "$LOG") 2>&1
echo "gpu-check: device $DEVICE, preset $PRESET, $EPOCHS epochs, work folder $WORK, results $RESULTS"
[ -f "$BUNDLE/MANIFEST" ] && sed 's/^/  bundle: /' "$BUNDLE/MANIFEST"
if [ "$DEVICE" = cuda ]; then
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | sed 's/^/  gpu: /'
fi
FAILED=()

# (a) Agreement tests.
echo
echo "== (a) CUDA vs CPU agreement tests (tests/gpu_conv.rs)"
if [ "$DEVICE" = cuda ]; then
    if "$BIN/gpu_conv" gpu_conv:: --nocapture --test-threads=1 2>&1 | tee "$RESULTS/gpu_conv.log"; then
        CONV="pass"
    else
        CONV="FAIL"
        FAILED+=("agreement tests")
    fi
    worst=$(awk '/ rel=/ { sub(/.* rel=/, ""); if ($1 + 0 > m) m = $1 + 0 } END { printf "%.2e", m }' "$RESULTS/gpu_conv.log")
    CONV="$CONV (worst relative error $worst, tolerance ${PO3AD_GPU_TOL:-2e-3})"
else
    "$BIN/gpu_conv" gpu_conv:: --list || FAILED+=("gpu_conv binary")
    CONV="skipped (dry run; the test binary lists its tests)"
fi

# (b) Data, then timed training with GPU memory sampled in the background.
echo
echo "== (b) synth + train --preset $PRESET --epochs $EPOCHS --device $DEVICE"
DATA="$WORK/data"
"$PO3AD" synth --builtin vase --out "$DATA" --n-good 4 --n-per-defect 1 || die "synth failed"
ROOT_ARGS=(--layout anomaly-shapenet --root "$DATA" --category vase)
RUN="$WORK/run"
MEM="$RESULTS/gpu-memory.csv"
MEM_PID=""
if [ "$DEVICE" = cuda ]; then
    nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 250 >"$MEM" 2>/dev/null &
    MEM_PID=$!
fi
# Epoch ends: loss.csv gains a line after every epoch (it is written each epoch, whatever
# the checkpoint cadence), so polling its length times the second epoch alone, without
# the first one's kernel compilation.
EPOCH_TIMES="$WORK/epoch-ends.txt"
: >"$EPOCH_TIMES"
(
    seen=1
    while :; do
        n=$(wc -l 2>/dev/null <"$RUN/loss.csv" || echo 1)
        if [ "$n" -gt "$seen" ]; then
            echo "$((n - 1)) $(now)" >>"$EPOCH_TIMES"
            seen=$n
        fi
        sleep 0.1
    done
) &
POLL_PID=$!
t0=$(now)
# A built-in preset from the carried working tree with a smaller repeat, so an epoch fits.
TRAIN_PRESET="$PRESET"
if [ "$REPEAT" != 0 ] && [ -f "presets/$PRESET.toml" ]; then
    TRAIN_PRESET="$WORK/check-$PRESET.toml"
    sed "s/^repeat = .*/repeat = $REPEAT/" "presets/$PRESET.toml" >"$TRAIN_PRESET"
    echo "training with presets/$PRESET.toml but repeat = $REPEAT"
fi
timeout "$TRAIN_TIMEOUT" "$PO3AD" train "${ROOT_ARGS[@]}" --preset "$TRAIN_PRESET" --epochs "$EPOCHS" \
    --device "$DEVICE" --out "$RUN" 2>&1 | tee "$WORK/train.log"
train_rc=${PIPESTATUS[0]}
t1=$(now)
sleep 0.3
kill "$POLL_PID" $MEM_PID 2>/dev/null
# Only these two: a bare `wait` would also wait for the `tee` behind this script's output.
wait "$POLL_PID" $MEM_PID 2>/dev/null
echo "train exit status $train_rc, $(minus "$t1" "$t0") s wall"
[ "$train_rc" = 0 ] || FAILED+=("train (exit $train_rc)")

# "trained 'vase': 2 epochs, final loss 0.1234, 56.7 s (12.34 clouds/s); model: ..."
line=$(grep "^trained " "$WORK/train.log" | tail -1)
fit_s=$(sed -n 's/.*, \([0-9.]*\) s (.*/\1/p' <<<"$line")
rate_all=$(sed -n 's/.*s (\([0-9.]*\) clouds\/s).*/\1/p' <<<"$line")
RATE="n/a"
PROJ="n/a"
if [ -n "$fit_s" ] && [ -n "$rate_all" ]; then
    per_epoch=$(awk -v s="$fit_s" -v r="$rate_all" -v e="$EPOCHS" 'BEGIN { printf "%.0f", s * r / e }')
    # Steady state: from the end of epoch 1 to the end of the last epoch.
    e1=$(awk '$1 == 1 { print $2 }' "$EPOCH_TIMES")
    eN=$(awk -v e="$EPOCHS" '$1 == e { print $2 }' "$EPOCH_TIMES")
    if [ -n "$e1" ] && [ -n "$eN" ]; then
        # Projection: the paper's 1000 epochs of 384 trained clouds at the steady rate.
        read -r RATE PROJ < <(awk -v a="$e1" -v b="$eN" -v c="$per_epoch" -v e="$EPOCHS" -v p="$PAPER_EPOCHS" -v q="$PAPER_CLOUDS_PER_EPOCH" \
            'BEGIN { d = (b - a) / (e - 1); r = c / d; printf "%.2f %.0f\n", r, p * (q - q % 32) / r / 60 }')
    fi
    RATE="$RATE clouds/s steady ($rate_all overall incl. first-epoch kernel compiles; $per_epoch clouds/epoch)"
fi
PEAK="n/a"
if [ -s "$MEM" ]; then
    PEAK=$(awk -F, 'NR == 1 { base = $1 + 0 } { v = $1 + 0; if (v > m) m = v } END { printf "%d MiB (%d MiB before training)", m, base }' "$MEM")
fi

# (c) The same model tested on the GPU and on the CPU: per-sample scores must match.
echo
echo "== (c) test on $DEVICE and on cpu, scores compared"
MODEL="$RUN"
if [ ! -f "$RUN/model.po3ad" ]; then
    # Training did not finish in time: compare on a tiny model so (c) still says something.
    echo "no trained $PRESET model; training a tiny one for the comparison"
    "$PO3AD" train "${ROOT_ARGS[@]}" --preset tiny --device "$DEVICE" --out "$WORK/tiny" || FAILED+=("tiny train")
    MODEL="$WORK/tiny"
fi
DIFF="n/a"
for dev in "$DEVICE" cpu; do
    ts=$(now)
    if "$PO3AD" test "${ROOT_ARGS[@]}" --model "$MODEL" --device "$dev" --heatmaps 0 --out "$WORK/test-$dev" >"$WORK/test-$dev.log" 2>&1; then
        echo "test on $dev: $(minus "$(now)" "$ts") s"
        cp "$WORK/test-$dev/scores.csv" "$RESULTS/scores-$dev.csv"
    else
        cat "$WORK/test-$dev.log"
        FAILED+=("test on $dev")
    fi
done
if [ -f "$RESULTS/scores-$DEVICE.csv" ] && [ -f "$RESULTS/scores-cpu.csv" ]; then
    # name,defect,anomalous,object_score,points,...: same samples in the same order; the
    # two files' columns are pasted side by side, so the CPU row starts at field n + 1.
    DIFF=$(paste -d, "$RESULTS/scores-$DEVICE.csv" "$RESULTS/scores-cpu.csv" | awk -F, '
        NR > 1 {
            n = NF / 2
            if ($1 != $(n + 1) || $5 != $(n + 5)) { bad = 1 }
            d = $4 - $(n + 4); if (d < 0) d = -d; if (d > m) m = d
            s = $(n + 4) < 0 ? -$(n + 4) : $(n + 4); if (s > top) top = s
        }
        END { if (bad) print "MISMATCHED ROWS"; else printf "%.3e (largest score %.3e)", m, top }')
    [ "${DIFF#MISMATCHED}" = "$DIFF" ] || FAILED+=("score rows differ")
fi

# (e) The PyTorch peer of the same step (plain PyTorch: per offset gather / matmul /
# index_add_, autograd), side by side in this call: gpu-prepare.sh copies it into the
# bundle from ../shared/peers. Its kernel maps are built with numpy and timed apart.
PEER="n/a (no $BUNDLE/peers/minkunet_torch.py or no torch)"
if [ "$DEVICE" = cuda ] && [ -f "$BUNDLE/peers/minkunet_torch.py" ] && python3 -c 'import torch' 2>/dev/null; then
    echo
    echo "== (e) PyTorch peer: MinkUNet34C step, B = 32, voxel 0.03, on the same vase data"
    if OBJ_DIR="$DATA/obj" timeout 240 python3 "$BUNDLE/peers/minkunet_torch.py" --device cuda \
        --batch 32 --voxel 0.03 --steps 5 --threads 8 --cats vase 2>&1 | tee "$RESULTS/peer.log"; then
        PEER=$(grep '^RESULT' "$RESULTS/peer.log" | tail -1 | cut -c8-)
    else
        PEER="FAIL (see peer.log)"
    fi
fi

# (d) Summary, last.
echo
echo "== po3ad GPU check summary (device $DEVICE, preset $PRESET)"
printf '%-34s %s\n' \
    "agreement tests" "$CONV" \
    "training throughput" "$RATE" \
    "projected $PAPER_EPOCHS epochs" "${PROJ} min" \
    "GPU memory peak" "$PEAK" \
    "max |score cuda - cpu|" "$DIFF" \
    "PyTorch peer (B = 32 step)" "$PEER" |
    tee "$RESULTS/summary.txt"
if [ "${#FAILED[@]}" -gt 0 ]; then
    echo "FAILED: ${FAILED[*]}" | tee -a "$RESULTS/summary.txt"
    exit 1
fi
echo "all steps passed" | tee -a "$RESULTS/summary.txt"
