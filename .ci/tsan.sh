#!/usr/bin/env bash
# The core's stress test (core/tests/stress.rs: nine threads entering, leaving, closing,
# triggering, making child scopes, parking and cancelling waiters) and the real-thread tests
# under ThreadSanitizer, which must report nothing. Needs nightly with the rust-src component
# (std is rebuilt with the sanitizer: -Zbuild-std); if it can't be installed, the step is
# skipped, loudly.
#
# TSan does not model fences: under it the core's Acquire fences become Acquire loads
# (`sync::acquire_fence`, switched by `cfg(winddown_sanitize_thread)`, which core/build.rs sets
# when Cargo reports `sanitize="thread"`).
set -euxo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! rustup +nightly component add rust-src; then
    echo "SKIP tsan: nightly with rust-src is not available here"
    exit 75  # skipped (see .ci/run)
fi

# The sanitizer needs an explicit target (so that build scripts and proc macros are built
# without it) and a std built with it. Its own target directory: these flags would otherwise
# invalidate the shared build cache.
host=$(rustc +nightly -vV | sed -n 's/^host: //p')
case "$host" in
    x86_64-unknown-linux-gnu | aarch64-unknown-linux-gnu | x86_64-apple-darwin | aarch64-apple-darwin) ;;
    *)
        echo "SKIP tsan: rustc has no ThreadSanitizer runtime for $host"
        exit 75  # skipped (see .ci/run)
        ;;
esac
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/tsan"
# Not -D warnings here: a nightly-only lint is clippy's business, not the sanitizer's.
export RUSTFLAGS="-Zsanitizer=thread"
# Any report fails the test binary at once (exit code 66), and so the step.
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"

# The stress test's rounds run for this long (it prints how many it ran).
export WINDDOWN_STRESS_SECS="${WINDDOWN_STRESS_SECS:-10}"

# Doctests are left out: rustdoc would need the same flags and a std built with them.
cargo +nightly test -Zbuild-std --target "$host" -p winddown-core \
    --test stress --test threads --test waiters --test waiter_memory -- --nocapture
# The leak finder (feature `track`) adds a lock to every enter and leave.
cargo +nightly test -Zbuild-std --target "$host" -p winddown-core --features track \
    --test stress -- --nocapture
