#!/usr/bin/env bash
# The loom models (core/tests/loom.rs). `--cfg loom` changes RUSTFLAGS, so they
# build in their own target directory and leave the main one's cache alone.
# LOOM_MAX_PREEMPTIONS bounds the search so the step stays within minutes.
set -euxo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/loom"
export RUSTFLAGS="${RUSTFLAGS:-} --cfg loom"
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-4}"

cargo test -p winddown-core --release --test loom --features loom

# The leak finder's model (feature `track` changes the guard's enter and drop paths).
cargo test -p winddown-core --release --test loom --features loom,track -- tracked_guards
