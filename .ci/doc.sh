#!/usr/bin/env bash
# API docs build with warnings denied, broken intra-doc links first among them: for the
# whole workspace with every feature (what docs.rs shows), then for each published crate with
# no features, its defaults, and each feature on its own (a link that resolves only when
# another feature is on is broken for whoever builds without it). The facade's rendered pages
# are checked for links rustdoc could not resolve in inlined docs by .ci/doc-paths.sh.
set -euxo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

for flag in "-D warnings" "-D rustdoc::broken_intra_doc_links"; do
    case " ${RUSTDOCFLAGS:-} " in
        *" $flag "*) ;;
        *) export RUSTDOCFLAGS="${RUSTDOCFLAGS:-} $flag" ;;
    esac
done

cargo doc --workspace --no-deps --all-features

# Each published crate's own features, from its manifest. `loom` is left out: it needs
# `--cfg loom` (.ci/loom.sh). `full` is every feature the examples use, covered above.
features() {
    cargo metadata --no-deps --format-version 1 | python3 -c '
import json, sys
name = sys.argv[1]
package = next(p for p in json.load(sys.stdin)["packages"] if p["name"] == name)
print(" ".join(f for f in sorted(package["features"]) if f not in ("default", "loom", "full")))
' "$1"
}

# winddown-http's docs link items of every feature; a build with some of them off allows the
# links it cannot resolve (see its lib.rs), and its build with every feature checks them all.
for crate in winddown-core winddown-adapters winddown-signals winddown-http winddown; do
    cargo doc -p "$crate" --no-deps --no-default-features
    cargo doc -p "$crate" --no-deps
    for feature in $(features "$crate"); do
        cargo doc -p "$crate" --no-deps --no-default-features --features "$feature"
    done
done
