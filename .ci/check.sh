#!/usr/bin/env bash
# winddown-check against winddown's HTTP examples (each must pass every check: at least 8
# passed, none failed) and against the reference servers (each must fail a check: exit 1).
# About two minutes: a reference server that hangs is killed at its 15 s budget, and each
# server is started once more for the escalation checks. Go (for the net/http
# reference) is installed if missing; if it cannot be, that one server is skipped, loudly.
set -euxo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v go; then
    (apt-get update && apt-get install -y --no-install-recommends golang-go) ||
        echo "SKIP the Go reference server: golang-go could not be installed"
fi
bash check/reference/run.sh --ci
