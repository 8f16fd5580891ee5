#!/usr/bin/env bash
# Event ingest (issue 5): 2 writer ranks logging 256-B events as fast as they can, release build.
# Prints events/s, MiB/s, logEvent p50/p99, the chunk-transfer bandwidth next to a raw fi_read of
# the same size, and the job summary (durable.latency.p50/p99 in µs, from the graphers; events
# lost, which must be 0).
#   benchmarks/ingest.sh [events-per-writer] [extra chronolog-bench ingest options]
#   SCRATCH=.build-x benchmarks/ingest.sh    (another scratch path for the release build)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
events=${1:-2000000}
shift || true
chronolog_bench 6 ingest --events "$events" "$@"
