#!/usr/bin/env bash
# The core's unit tests under miri (undefined behaviour, provenance, alignment,
# with struct layouts randomized). Needs nightly with the miri and rust-src
# components; if they can't be installed, the step is skipped, loudly.
set -euxo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! rustup +nightly component add miri rust-src; then
    echo "SKIP miri: nightly with miri and rust-src is not available here"
    exit 75  # skipped (see .ci/run)
fi

# Not -D warnings here: a nightly-only lint is clippy's business, not miri's.
export RUSTFLAGS="-Zrandomize-layout"
export MIRIFLAGS="-Zmiri-strict-provenance -Zmiri-symbolic-alignment-check"

cargo +nightly miri setup
# The unit tests, and the integration tests that exercise the unsafe code: waiters, guard
# lifetimes, real threads (counts shrunk under miri), and the sequence.
cargo +nightly miri test -p winddown-core --lib --test waiters --test waiter_memory --test alloc_free --test threads --test sequence
