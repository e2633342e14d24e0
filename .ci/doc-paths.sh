#!/usr/bin/env bash
# The facade's rendered docs name no inner crate in their examples: every example a user of
# `winddown` sees compiles with `winddown::` paths (the inner crates write theirs that way;
# see .ci/facade_paths.py for the rewrite); and they show no intra-doc link as raw text, which
# rustdoc does not warn about in docs it inlines from the inner crates (.ci/doc_links.py).
# Builds the same docs as doc.sh (a no-op after it).
set -euxo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

case " ${RUSTDOCFLAGS:-} " in
    *" -D warnings "*) ;;
    *) export RUSTDOCFLAGS="${RUSTDOCFLAGS:-} -D warnings" ;;
esac
cargo doc --workspace --no-deps --all-features
python3 .ci/doc_paths.py target/doc/winddown
python3 .ci/doc_links.py target/doc/winddown
