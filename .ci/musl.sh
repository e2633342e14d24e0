#!/usr/bin/env bash
# Static builds for small Linux boards and scratch containers.
#
# - x86_64-unknown-linux-musl: both demo daemons built static (checked: no ELF interpreter),
#   and the real-process signal suite (examples/demo/tests/daemon_suite) run against them: the
#   host test binaries start the musl daemons through WINDDOWN_EXAMPLES_DIR.
# - aarch64-unknown-linux-musl: the smol demo daemon built and linked with the Debian cross
#   gcc (installed here if missing); `cargo check` only if no cross linker can be installed.
# - armv7-unknown-linux-musleabihf: `cargo check` of the published crates (the facade with
#   tokio, smol and signals) and of the job queue library. rustup may have no prebuilt std for
#   it (1.95's is missing on the server): then nightly's `-Zbuild-std` checks against std built
#   from source, and if that cannot be had either, the armv7 check alone is skipped, loudly.
set -euxo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

add_target() {
    rustup target list --installed | grep -qx "$1" || rustup target add "$1"
}

# ----- x86_64 musl: build, prove static, run the signal suite -----
musl=x86_64-unknown-linux-musl
add_target "$musl"
cargo build --target "$musl" -p winddown-demo --all-features --example daemon --example daemon_smol
# Absolute: the test binaries run in their package's directory (examples/demo).
dir="$PWD/target/$musl/debug/examples"
for daemon in daemon daemon_smol; do
    if readelf -l "$dir/$daemon" | grep -q INTERP; then
        echo "$dir/$daemon is not static" >&2
        exit 1
    fi
done
# The host test binaries (as built by the test step), run against the static daemons.
WINDDOWN_EXAMPLES_DIR="$dir" cargo test -p winddown-demo --all-features --test daemon --test daemon_smol

# ----- aarch64 musl: a real build where a cross linker is at hand -----
arm64=aarch64-unknown-linux-musl
add_target "$arm64"
if ! command -v aarch64-linux-gnu-gcc >/dev/null; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc-aarch64-linux-gnu) || true
fi
if command -v aarch64-linux-gnu-gcc >/dev/null; then
    CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=aarch64-linux-gnu-gcc \
        cargo build --target "$arm64" -p winddown-demo --features smol --example daemon_smol
    readelf -h "target/$arm64/debug/examples/daemon_smol" | grep -q AArch64
else
    echo "no aarch64 cross linker: checking only"
    cargo check --target "$arm64" -p winddown-demo --features smol --example daemon_smol
fi

# ----- armv7 musl: a check -----
armv7=armv7-unknown-linux-musleabihf
armv7_crates="-p winddown -p winddown-example-jobs --features winddown/tokio,winddown/smol,winddown/signals,winddown/systemd"
if add_target "$armv7"; then
    cargo check --target "$armv7" $armv7_crates
elif rustup +nightly component add rust-src; then
    # The std of the nightly toolchain, built from source, only for this check; a target
    # directory of its own keeps nightly's artifacts out of the shared one.
    RUSTFLAGS="" CARGO_TARGET_DIR=target/build-std \
        cargo +nightly check -Zbuild-std=std,panic_abort --target "$armv7" $armv7_crates
else
    echo "SKIP armv7: no prebuilt std for $armv7 and no nightly rust-src to build one"
fi
