#!/usr/bin/env bash
# The whole test suite, doctests included: exactly the command README.md gives
# a newcomer, so the README and CI can't drift apart. It tests the workspace's
# default members (Cargo.toml): everything but the benchmark packages, which
# bench.sh builds.
set -euxo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

cargo test --all-features
