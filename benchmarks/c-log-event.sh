#!/usr/bin/env bash
# chronolog_log_event from C (issue 13): 2 writer ranks, 256-B events, release build, MPMD beside
# a 4-rank service. Prints p50/p99/p99.9 per call, events/s, and the job summary's events line.
#   benchmarks/c-log-event.sh [events-per-writer] [event-bytes]
#   SCRATCH=.build benchmarks/c-log-event.sh    (another scratch path for the release build)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
root=$(chronolog_root)
scratch=${SCRATCH:-.build-release}
(cd "$root" && swift build -c release --product ChronoLog --scratch-path "$scratch" >/dev/null \
  && swift build -c release --product chronolog-job --scratch-path "$scratch" >/dev/null)
bin="$root/$scratch/release"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mpicc -std=c99 -O2 -I "$root/Sources/CChronoLog/include" "$root/benchmarks/c_log_event.c" -o "$work/c_log_event" \
  -L "$bin" -lChronoLog -Wl,-rpath,"$bin"
# shellcheck disable=SC2046
(cd "$work" && mpirun $(chronolog_mpirun_flags) -n 4 "$bin/chronolog-job" --workload none : -n 2 ./c_log_event "$@") \
  | grep -E "^BENCH|^  chronolog_log_event|^  logging|^  events:"
