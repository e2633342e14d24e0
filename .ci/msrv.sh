#!/usr/bin/env bash
# The published crates build on the MSRV. Keep in sync with `rust-version` in
# the root Cargo.toml and README.md "Compatibility".
# If the toolchain can't be installed, the step is skipped, loudly.
set -euxo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

msrv=1.81
if ! rustup toolchain install "$msrv" --profile minimal; then
    echo "SKIP msrv: toolchain $msrv is not available here"
    exit 75  # skipped (see .ci/run)
fi

# Its own target directory (another compiler), and no -D warnings: lints that
# newer compilers add or change are the stable clippy step's concern; this step
# only proves the code compiles on $msrv.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/msrv"
export RUSTFLAGS=""

cargo "+$msrv" check -p winddown-core
cargo "+$msrv" check -p winddown-core --no-default-features
cargo "+$msrv" check -p winddown-signals
# The systemd notifier is runtime-free: it must not need more than the MSRV.
cargo "+$msrv" check -p winddown-adapters --features systemd
cargo "+$msrv" check -p winddown
cargo "+$msrv" check -p winddown-http --features tower
