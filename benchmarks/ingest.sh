#!/usr/bin/env bash
# Event ingest (issue 5), release build, in one run:
#  1. 2 writer ranks logging 256-B events as fast as they can: events/s, MiB/s, logEvent p50/p99,
#     the chunk-transfer bandwidth next to a raw fi_read of the same size, and the job summary
#     (durable.latency.p50/p99 in µs, from the graphers; events lost, which must be 0);
#  2. the archive write bandwidth next to a plain collective HDF5 write of the same bytes
#     (`archive-checks bench`, 256-B events, 2 ranks, rounds alternating between the two).
#   benchmarks/ingest.sh [events-per-writer] [extra chronolog-bench ingest options]
#   SCRATCH=.build-x benchmarks/ingest.sh    (another scratch path for the release build)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
events=${1:-2000000}
shift || true
chronolog_bench 6 ingest --events "$events" "$@"

echo "archive write vs plain collective HDF5 write (256-B events, 2 ranks):"
root=$(chronolog_root)
scratch=${SCRATCH:-.build-release}
(cd "$root" && swift build -c release --product archive-checks --scratch-path "$scratch" >/dev/null)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# shellcheck disable=SC2046
mpirun $(chronolog_mpirun_flags) -n 2 "$root/$scratch/release/archive-checks" bench --dir "$work" --mib 256 \
  --event-bytes 256 | grep -E "^BENCH|^PASS|^FAIL"
