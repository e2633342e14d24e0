#!/usr/bin/env bash
# Formatting: the workspace, and the no_std probe (its own workspace, so
# `cargo fmt --all` at the root does not reach it).
set -euxo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

rustup component add rustfmt
cargo fmt --all --check
cargo fmt --check --manifest-path tests/no-std/Cargo.toml
