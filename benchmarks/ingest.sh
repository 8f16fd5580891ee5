#!/usr/bin/env bash
# Event ingest (issue 5): 2 writer ranks logging 256-B events as fast as they can, release build.
# Prints events/s, MiB/s, logEvent p50/p99 and the job summary (durable.latency.p50/p99 in µs,
# from the graphers; bytes.transferred by RMA; events lost, which must be 0).
#   benchmarks/ingest.sh [events-per-writer] [extra chronolog-bench ingest options]
# SCRATCH=.build-mine benchmarks/ingest.sh builds into another scratch path (default .build-release).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
root=$(chronolog_root)
cd "$root"
events=${1:-2000000}
shift || true
scratch=${SCRATCH:-.build-release}
swift build -c release --product chronolog-bench --scratch-path "$scratch" >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
# shellcheck disable=SC2046
mpirun $(chronolog_mpirun_flags) -n 6 "$root/$scratch/release/chronolog-bench" ingest --events "$events" "$@"
