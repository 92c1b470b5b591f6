#!/usr/bin/env bash
# The GPU kernels (crates/po3ad-sparse/src/cube.rs, CubeCL) on burn's wgpu backend against
# the dense reference, without a GPU: Mesa's lavapipe runs Vulkan on the CPU.
# Needs the Debian packages mesa-vulkan-drivers and libvulkan1 (.ci/run installs them).
# Without a Vulkan driver it says so and skips, unless PO3AD_REQUIRE_VULKAN=1 (CI).
set -euo pipefail
cd "$(dirname "$0")/.."
# (grep without -q: an early exit would SIGPIPE ldconfig and fail the pipeline under pipefail)
if ! ls /usr/share/vulkan/icd.d/*.json >/dev/null 2>&1 || ! ldconfig -p 2>/dev/null | grep libvulkan.so.1 >/dev/null; then
  if [ "${PO3AD_REQUIRE_VULKAN:-0}" = 1 ]; then
    echo "test-gpu-kernels: no Vulkan driver (apt-get install mesa-vulkan-drivers libvulkan1)" >&2
    exit 1
  fi
  echo "test-gpu-kernels: skipped, no Vulkan driver (apt-get install mesa-vulkan-drivers libvulkan1)"
  exit 0
fi
# lavapipe is the only adapter CI has; prefer it where a real GPU is also present, so
# results do not depend on the machine.
export VK_ICD_FILENAMES=${VK_ICD_FILENAMES:-$(ls /usr/share/vulkan/icd.d/lvp_icd.*.json 2>/dev/null | head -1)}
# Mesa asks for a runtime dir it does not need; give it one so it does not complain.
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}
cargo test -p po3ad-sparse --features wgpu --test cube_conv
