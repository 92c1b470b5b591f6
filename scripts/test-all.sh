#!/usr/bin/env bash
# The whole test suite: the Rust workspace, the GPU kernels on a CPU Vulkan driver
# (scripts/test-gpu-kernels.sh), then the Python module (scripts/test-python.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace
scripts/test-gpu-kernels.sh
scripts/test-python.sh
