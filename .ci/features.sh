#!/usr/bin/env bash
# Every feature combination up to two at a time checks, without dev-deps (which
# would otherwise turn on features and hide a missing forward).
# `loom` is left out: it needs `--cfg loom` and is exercised by loom.sh.
#
# Note: --no-dev-deps makes cargo-hack edit the Cargo.toml files while it runs
# (and restore them after); run it in a clone, not in a tree you are editing.
set -euxo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! cargo hack --version; then
    # The tool is not ours to lint: install it without the run's -D warnings.
    RUSTFLAGS="" cargo install cargo-hack --locked
fi
cargo hack check --workspace --feature-powerset --depth 2 --no-dev-deps \
    --exclude-features loom
