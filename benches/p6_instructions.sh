#!/usr/bin/env bash
# P6 in instructions and system calls: what each P6 daemon does between SIGTERM and its exit,
# counted rather than timed, so that a change of the code shows apart from the machine's
# state (P6's times move by a third between runs on a shared machine; these counts do not).
#
# For each daemon (the bare tokio daemon, the tokio and smol demo daemons, in release as P6
# runs them): start it under callgrind, wait for `ready`, zero the counters (`callgrind_control
# -z`), send SIGTERM, and read the instructions collected until the exit: the stop's own
# instructions in user space (the kernel's work is not in them). Then, with strace, the system
# calls made after the signal arrived. Prints `winddown-bench-record` lines for report.sh.
# Without valgrind (or strace) it prints a note and leaves that count out.
#
#   bash benches/p6_instructions.sh     (after `cargo build --release` of the daemons: report.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

target=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
cargo build -q --release -p winddown-benches --bin bare_daemon
out=$(mktemp -d "${TMPDIR:-/tmp}/winddown-p6i.XXXXXX")
# Pids of what this script started, killed on any way out: nothing is left running.
started=()
cleanup() {
    for pid in "${started[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    rm -rf "$out"
}
trap cleanup EXIT

# Waits (at most 60 s: callgrind starts slowly) for `ready` in the file $1.
wait_ready() {
    for _ in $(seq 600); do
        grep -q '^ready' "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# The instructions from SIGTERM to the exit of $2 (tagged $1), under callgrind.
instructions() {
    local tag=$1 bin=$2
    # The daemons write their log files to TMPDIR, and valgrind its control pipes, which
    # callgrind_control must find under the same TMPDIR.
    TMPDIR=$out valgrind --tool=callgrind --callgrind-out-file="$out/cg.$tag" "$bin" \
        >"$out/stdout.$tag" 2>"$out/stderr.$tag" &
    local pid=$!
    started+=("$pid")
    if ! wait_ready "$out/stdout.$tag"; then
        echo "p6_instructions: $tag did not print ready under callgrind, skipped"
        return 0
    fi
    # Zeroing reaches the daemon asleep in epoll_wait through vgdb; if it cannot (ptrace not
    # allowed), the count would include the start: skipped rather than wrong.
    local zeroed
    zeroed=$(TMPDIR=$out callgrind_control -z "$pid" 2>&1 || true)
    if [[ $zeroed != *"sending command zero"* ]]; then
        echo "p6_instructions: cannot zero callgrind's counters in $tag, skipped"
        kill -TERM "$pid"
        wait "$pid" || true
        return 0
    fi
    kill -TERM "$pid"
    wait "$pid" || true
    local count
    count=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$out/stderr.$tag")
    [ -n "$count" ] && echo "winddown-bench-record {\"measure\": \"p6_instructions\", \"tag\": \"$tag\", \"instructions\": $count}"
}

# The system calls of $2 (tagged $1) after SIGTERM reached it, with strace (every thread).
syscalls() {
    local tag=$1 bin=$2
    TMPDIR=$out strace -f -qq -o "$out/st.$tag" "$bin" >"$out/stdout.$tag" 2>"$out/stderr.$tag" &
    local pid=$!
    started+=("$pid")
    if ! wait_ready "$out/stdout.$tag"; then
        echo "p6_instructions: $tag did not print ready under strace, skipped"
        return 0
    fi
    sleep 0.2
    # The daemon is strace's child: the only process under it.
    local daemon
    daemon=$(pgrep -P "$pid" | head -n 1)
    kill -TERM "$daemon"
    wait "$pid" || true
    # Every line after the signal's arrival that is a call (not the signal, not the exit).
    local count
    count=$(awk '/--- SIGTERM/ {on = 1; next} on && !/^[0-9]+ +(---|\+\+\+)/ && !/resumed>/ {n++} END {print n + 0}' "$out/st.$tag")
    echo "winddown-bench-record {\"measure\": \"p6_syscalls\", \"tag\": \"$tag\", \"syscalls\": $count}"
}

arms=("bare $target/release/bare_daemon"
    "winddown $target/release/examples/daemon"
    "winddown-smol $target/release/examples/daemon_smol")
for arm in "${arms[@]}"; do
    read -r tag bin <<<"$arm"
    if [ ! -x "$bin" ]; then
        echo "p6_instructions: $bin not built, $tag skipped"
        continue
    fi
    if command -v valgrind >/dev/null; then
        instructions "$tag" "$bin"
    else
        echo "p6_instructions: valgrind not installed, instructions skipped"
    fi
    if command -v strace >/dev/null; then
        syscalls "$tag" "$bin"
    else
        echo "p6_instructions: strace not installed, system calls skipped"
    fi
done
