#!/usr/bin/env bash
# Replay (issue 6): one client logs a large story (default 1 GiB of 4 KiB events), then replays it
# through the player cold and warm next to a plain serial HDF5 read of the same datasets in the
# same run, and measures log → visible latency. Release build.
#   benchmarks/replay.sh [MiB] [extra chronolog-bench replay options]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
root=$(chronolog_root)
cd "$root"
mib=${1:-1024}
shift || true
scratch=${SCRATCH:-.build-release}
swift build -c release --product chronolog-bench --scratch-path "$scratch" >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
# shellcheck disable=SC2046
mpirun $(chronolog_mpirun_flags) -n 5 "$root/$scratch/release/chronolog-bench" replay --mib "$mib" "$@"
