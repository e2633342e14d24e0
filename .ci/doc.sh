#!/usr/bin/env bash
# API docs build with warnings (broken intra-doc links included) denied.
set -euxo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

case " ${RUSTDOCFLAGS:-} " in
    *" -D warnings "*) ;;
    *) export RUSTDOCFLAGS="${RUSTDOCFLAGS:-} -D warnings" ;;
esac
cargo doc --workspace --no-deps --all-features
