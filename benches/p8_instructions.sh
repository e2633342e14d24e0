#!/usr/bin/env bash
# P8 in instructions: runs `sequence_runs` (P8's step, N times) under callgrind with two run
# counts and prints, per runtime and resource count, the instructions of one run (the
# difference of the two totals divided by the difference of the run counts: no start-up, and
# none of the noise criterion's times carry on a shared machine), as `winddown-bench-record`
# lines for report.sh. Without valgrind it prints a note and no record.
#
#   bash benches/p8_instructions.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v valgrind >/dev/null; then
    echo "p8_instructions: valgrind not installed, P8's instruction counts skipped"
    exit 0
fi
cargo build --release -p winddown-benches --bin sequence_runs
target=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
bin="$target/release/sequence_runs"
out=$(mktemp -d "${TMPDIR:-/tmp}/winddown-p8.XXXXXX")
trap 'rm -rf "$out"' EXIT

few=50
many=250
# The total instructions of `runs` runs.
total() {
    valgrind --tool=callgrind --callgrind-out-file="$out/cg" "$bin" "$1" "$2" "$3" 2>&1 |
        sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
for runtime in tokio virtual; do
    for resources in 10 0; do
        a=$(total "$runtime" "$resources" "$few")
        b=$(total "$runtime" "$resources" "$many")
        per=$(( (b - a) / (many - few) ))
        echo "winddown-bench-record {\"measure\": \"p8_instructions\", \"runtime\": \"$runtime\", \"resources\": $resources, \"per_run\": $per}"
    done
done
