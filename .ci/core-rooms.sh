#!/usr/bin/env bash
# The core's shape (core/ARCHITECTURE.md) and the size of every library file, from the
# sources alone (no build): `unsafe` only in core/src/raw/, no circle between the core's
# files, the stop sequence using the admission engine only through the crate's public
# re-exports, and no library file over 500 lines of code (comments, docs and test modules
# not counted). `python3 .ci/core_rooms.py --counts --graph` prints the counts and the
# file graph.
set -euxo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

python3 .ci/core_rooms.py
