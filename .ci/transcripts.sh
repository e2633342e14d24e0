#!/usr/bin/env bash
# The README's transcripts still match what the examples print (timings, ports and paths
# masked): .ci/transcripts.py runs each one. The examples are built with the features the
# README's commands give (in debug: the output is the same), not the test step's
# `--all-features`, whose `track` adds lines. After a change that alters the output, regenerate
# them with `bash .ci/transcripts.sh --write` and review the diff.
set -euxo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

cargo build -p winddown-demo --example daemon
cargo build -p winddown --features full --example axum
python3 .ci/transcripts.py "${1:---check}"
