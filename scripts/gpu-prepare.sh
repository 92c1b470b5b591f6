#!/usr/bin/env bash
# Build the CUDA-enabled po3ad binary and the CUDA agreement tests here (no GPU and no
# CUDA toolkit needed: burn compiles its kernels at run time) and copy them, stripped, to
# gpu-bundle/ (gitignored) for scripts/gpu-check.sh on a GPU machine that has neither a
# Rust toolchain nor a registry. The device tool carries at most 64 MiB in all, working
# tree included, so the bundle must stay well under that: binaries over the budget are
# xz-compressed (gpu-check.sh unpacks them).
#
#   bash scripts/gpu-prepare.sh          # honours CARGO_TARGET_DIR
set -euo pipefail
cd "$(dirname "$0")/.."

BUNDLE=gpu-bundle
BUDGET_MIB=${GPU_BUNDLE_BUDGET_MIB:-48}

# The executable cargo reports for target $1, from its JSON messages (the test build
# also reports the po3ad binary it runs, so the target name must be matched).
executable_of() {
    grep "\"name\":\"$1\"" | grep -o '"executable":"[^"]*"' | tail -1 | sed 's/"executable":"\(.*\)"/\1/'
}

# One cargo invocation for both: `cargo test` unifies the dev-dependencies' features
# (proptest, tempfile) into the dependency tree, so a separate `cargo build` of the binary
# would compile burn and cubecl a second time. The integration-test build also builds the
# po3ad binary, and cargo reports it (fresh or not) in the same JSON stream.
echo "building po3ad and the test suite with tests/gpu_conv.rs (release, cuda) ..."
# tests/gpu_conv.rs is a module of the one integration-test binary, `suite`; the bundle
# keeps it under the name gpu_conv, and gpu-check.sh runs only its `gpu_conv::` tests.
json=$(cargo test --release --features cuda --test suite --no-run --message-format=json-render-diagnostics)
bin=$(grep '"kind":\["bin"\]' <<<"$json" | executable_of po3ad)
conv=$(executable_of suite <<<"$json")
[ -x "$bin" ] || { echo "gpu-prepare: po3ad binary not found ('$bin')" >&2; exit 1; }
[ -x "$conv" ] || { echo "gpu-prepare: gpu_conv test binary not found ('$conv')" >&2; exit 1; }

rm -rf "$BUNDLE"
mkdir -p "$BUNDLE"
cp "$bin" "$BUNDLE/po3ad"
cp "$conv" "$BUNDLE/gpu_conv"
strip "$BUNDLE/po3ad" "$BUNDLE/gpu_conv"

# The PyTorch peer of the training step (gpu-check.sh runs it in the same device call, so
# the ratio is measured side by side); it lives in the repository, scripts/peers/.
mkdir -p "$BUNDLE/peers"
cp scripts/peers/minkunet_torch.py "$BUNDLE/peers/"

mib() { du -m "$1" | cut -f1; }
total=$(( $(mib "$BUNDLE/po3ad") + $(mib "$BUNDLE/gpu_conv") ))
if [ "$total" -gt "$BUDGET_MIB" ]; then
    echo "stripped binaries are $total MiB (> $BUDGET_MIB): compressing with xz"
    xz -9 -T0 "$BUNDLE/po3ad" "$BUNDLE/gpu_conv"
fi
{
    echo "commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src crates tests Cargo.toml Cargo.lock || echo ' (with local changes)')"
    echo "built $(date -u +%Y-%m-%dT%H:%MZ) on $(uname -m), $(rustc --version)"
    (cd "$BUNDLE" && for f in po3ad* gpu_conv*; do echo "$f $(du -h "$f" | cut -f1) $(sha256sum "$f" | cut -c1-16)"; done)
} >"$BUNDLE/MANIFEST"
cat "$BUNDLE/MANIFEST"
size=$(du -sm "$BUNDLE" | cut -f1)
echo "gpu-bundle: $size MiB (device tool limit: 64 MiB with the working tree)"
[ "$size" -le "$BUDGET_MIB" ] || { echo "gpu-prepare: bundle still over $BUDGET_MIB MiB" >&2; exit 1; }
