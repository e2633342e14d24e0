#!/usr/bin/env bash
# The core's normal dependencies without default features must be no_std:
# no std-only crate, and no crate with its `std` feature on. Checked both as
# `-p winddown-core --no-default-features` in the workspace and as the no_std
# probe (its own workspace) resolves it.
set -euxo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Crates that need std (or an OS) and must never reach the no_std core.
deny='^(parking|loom|libc|std|once_cell|parking_lot|parking_lot_core) '

check_tree() {
    local tree
    tree=$(cargo tree "$@" -e normal --prefix none -f '{p} [{f}]')
    printf '%s\n' "$tree"
    # Not vacuous: the core itself is in the tree.
    grep -q '^winddown-core ' <<<"$tree"
    if grep -E "$deny" <<<"$tree"; then
        echo "error: std-only crate in the no_std core's dependencies" >&2
        return 1
    fi
    if grep -E '[[,]std[],]' <<<"$tree"; then
        echo "error: a crate has its \`std\` feature on in the no_std core's dependencies" >&2
        return 1
    fi
}

check_tree -p winddown-core --no-default-features
check_tree --manifest-path tests/no-std/Cargo.toml
