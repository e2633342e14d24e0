#!/usr/bin/env bash
# The whole test suite, doctests included: exactly the command README.md gives
# a newcomer, so the README and CI can't drift apart.
set -euxo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

cargo test --workspace --all-features
