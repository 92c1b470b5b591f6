#!/usr/bin/env bash
# The whole test suite: the Rust workspace, then the Python module (scripts/test-python.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace
scripts/test-python.sh
