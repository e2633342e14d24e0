#!/usr/bin/env bash
# Benches compile; CI never times them (numbers come only from the bench script).
set -euxo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

cargo bench --no-run -p winddown-benches
