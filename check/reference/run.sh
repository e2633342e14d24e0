#!/usr/bin/env bash
# winddown-check against winddown's HTTP examples and the reference servers.
#
#   bash check/reference/run.sh          # run all, write the table into README.md and the SVGs
#   bash check/reference/run.sh --ci     # run all, write nothing: fail unless each example
#                                        # passes every check (>= 8 passed, 0 failed) and each
#                                        # reference server exits 1 (a failed check)
#
# Servers: examples/axum.rs and examples/http_smol.rs (with --pre-stop 1: a readiness window
# for a load balancer), axum 0.8's serve().with_graceful_shutdown, hyper-util's
# GracefulShutdown with a plain accept loop (both check/reference/src/bin), and Go's
# net/http Server.Shutdown (check/reference/go; skipped, loudly, when Go is missing).
# The reference servers get a 15 s budget: more than hyper-util's example gives itself (it
# gives up after 10 s), less than the 30 s default, so that the run stays short. Those that
# hang on something are killed at it: about 25 s a server with the escalation runs
# (--escalate: a fresh start, a request holding the stop, a second and a third signal).
#
# Everything talks to 127.0.0.1 only. Scorecards go to target/check/NAME.{txt,json,svg}.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

ci=false
if [ "${1:-}" = "--ci" ]; then
    ci=true
fi

out=target/check
mkdir -p "$out"

# The checker and the examples as the test step builds them (nothing to build after it),
# then the reference servers.
cargo test --workspace --all-features --no-run
cargo build -p winddown-check-reference --bins
checker=target/debug/winddown-check

go_ref=""
if command -v go >/dev/null; then
    (cd check/reference/go && GOFLAGS=-mod=mod go build -o "../../../$out/go-shutdown" .)
    go_ref="$out/go-shutdown"
else
    echo "SKIP the Go reference: no go on PATH (apt-get install golang-go)"
fi

failures=0

# run NAME EXPECT BUDGET COMMAND...: EXPECT is pass (exit 0, >= 8 passed, 0 failed) or fail
# (exit 1).
run() {
    local name=$1 expect=$2 budget=$3
    shift 3
    local code=0
    "$checker" --escalate --budget "$budget" --json "$out/$name.json" --svg "$out/$name.svg" \
        -- "$@" >"$out/$name.txt" || code=$?
    cat "$out/$name.txt"
    local passed
    passed=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(c["status"]=="passed" for c in d["checks"]))' "$out/$name.json" 2>/dev/null || echo 0)
    case "$expect" in
        pass)
            if [ "$code" != 0 ] || [ "$passed" -lt 8 ]; then
                echo "FAILED $name: exit $code, $passed checks passed (want exit 0, >= 8 passed)"
                failures=$((failures + 1))
            fi
            ;;
        fail)
            if [ "$code" != 1 ]; then
                echo "FAILED $name: exit $code (want 1: a reference server that fails a check)"
                failures=$((failures + 1))
            fi
            ;;
    esac
}

run winddown-axum pass 30 target/debug/examples/axum --port '{port}' --pre-stop 1
run winddown-http_smol pass 30 target/debug/examples/http_smol --port '{port}' --pre-stop 1
run axum-with_graceful_shutdown fail 15 target/debug/axum_graceful --port '{port}'
run hyper-util-GracefulShutdown fail 15 target/debug/hyper_graceful --port '{port}'
if [ -n "$go_ref" ]; then
    run go-net-http-Shutdown fail 15 "$go_ref" --port '{port}'
fi

if [ "$ci" = false ]; then
    python3 check/reference/table.py "$out" README.md
    mkdir -p docs
    cp "$out/axum-with_graceful_shutdown.svg" docs/check-axum-with_graceful_shutdown.svg
    cp "$out/winddown-axum.svg" docs/check-winddown-axum.svg
fi

if [ "$failures" != 0 ]; then
    echo "$failures server(s) did not score as expected"
    exit 1
fi
