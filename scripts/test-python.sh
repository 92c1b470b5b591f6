#!/usr/bin/env bash
# The Python module's suite (crates/po3ad-py/tests): a fresh virtual environment with
# maturin, numpy and pytest from PyPI, the wheel built once (release, in the cargo target
# folder), installed, and pytest run against it. The tests compare with the po3ad CLI
# binary of the same checkout (built here if `cargo test --workspace` has not yet).
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
target="${CARGO_TARGET_DIR:-$PWD/target}"
case "$target" in /*) ;; *) target="$PWD/$target" ;; esac
python="${PYTHON:-python3}"
venv="$target/py-venv"
wheels="$target/py-wheels"

# The CLI binary the tests compare with, as `cargo test --workspace` builds it (same
# profile and feature set, so after the Rust suite this is a no-op, where a plain
# `cargo build --bin po3ad` would rebuild every dependency with other features).
cargo test --workspace --no-run
rm -rf "$venv" "$wheels"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check maturin numpy pytest
CARGO_TARGET_DIR="$target" "$venv/bin/maturin" build --release \
    -m crates/po3ad-py/Cargo.toml -o "$wheels"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$wheels"/po3ad-*.whl
# Run outside the source tree so `import po3ad` is the installed wheel. pytest exits
# non-zero on any failure and with 5 when it collects no tests.
cd "$target"
PO3AD_BIN="$target/debug/po3ad" "$venv/bin/python" -m pytest -q -p no:cacheprovider \
    "$repo/crates/po3ad-py/tests"
