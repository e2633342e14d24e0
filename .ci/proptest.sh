#!/usr/bin/env bash
# The phase-machine proptest suite at CI strength (the default 256 cases run
# in test.sh). Release mode: 10,000 cases in debug would take much longer.
set -euxo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PROPTEST_CASES=10000 cargo test -p winddown-core --release --test phase_props --test sequence_props
