#!/usr/bin/env bash
# Replay (issue 6): one client logs a large story (default 1 GiB of 4 KiB events), then replays it
# through the player cold, and warm in --warm-rounds rounds (default 3), each next to a plain serial
# HDF5 read of the same datasets in the same run (medians and their ratio printed), and measures
# log → visible latency. Release build.
#   benchmarks/replay.sh [MiB] [extra chronolog-bench replay options, e.g. --warm-rounds 5]
#   SCRATCH=.build-x benchmarks/replay.sh    (another scratch path for the release build)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
mib=${1:-1024}
shift || true
chronolog_bench 5 replay --mib "$mib" "$@"
