#!/usr/bin/env bash
# Lints: every crate, every target (tests, examples, benches), every feature.
set -euxo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

rustup component add clippy
cargo clippy --workspace --all-targets --all-features -- -D warnings
