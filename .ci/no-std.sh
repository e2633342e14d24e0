#!/usr/bin/env bash
# The no_std probe (tests/no-std): a #![no_std] #![no_main] binary with its own
# panic handler and allocator that uses winddown-core without default features.
#
# - Host `cargo check`: if anything in the tree links std, this fails with
#   "found duplicate lang item `panic_impl`" (std brings its own handler).
#   A full host link is not attempted: the host's prebuilt liballoc needs an
#   unwinding personality that only std provides, whatever our code does.
# - `cargo build --target thumbv7em-none-eabihf`: a real build and link for a
#   target that has no std at all (E0463 "can't find crate for `std`" if the
#   tree needs it). tests/no-std/build.rs makes `main` the entry point there,
#   so the linker keeps the calls into the core instead of discarding them.
set -euxo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

target=thumbv7em-none-eabihf
manifest=tests/no-std/Cargo.toml

cargo check --manifest-path "$manifest"

if ! rustup target list --installed | grep -qx "$target"; then
    rustup target add "$target"
fi
cargo build --manifest-path "$manifest" --target "$target"
cargo build --manifest-path "$manifest" --target "$target" --release

# The core's critical-section lock (used only without `std`), on the embedded target.
cargo check -p winddown-core --no-default-features --features critical-section --target "$target"

# The core's footprint budget (BENCHMARKS.md, F3): what the probe's use of the core adds to
# `.text` in the `size` profile (opt-level "z", LTO) stays under 8 KiB.
text() {
    size -A "tests/no-std/target/$target/size/winddown-no-std-probe" | awk '$1 == ".text" { print $2 }'
}
cargo build --manifest-path "$manifest" --target "$target" --profile size --no-default-features
without=$(text)
cargo build --manifest-path "$manifest" --target "$target" --profile size
with=$(text)
echo "winddown-core adds $((with - without)) B of .text on $target (budget 8192)"
[ $((with - without)) -lt 8192 ]
