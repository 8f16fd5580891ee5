#!/usr/bin/env bash
# StoryHandle.log_event from Python (issue 14): 2 writer ranks, 256-B str events, release build
# installed with scripts/install.sh (py_chronolog_client for Debian's python3), MPMD beside a
# 4-rank service; then ReplayStory and replay_array of each writer's story. Prints p50/p99/p99.9
# per call, events/s, the replay rates and the job summary's events line.
#   benchmarks/python-log-event.sh [events-per-writer] [event-bytes] [replay-MiB]
#   (replay-MiB > 0: replay_array of a story that large against h5py reading it, medians of 3)
#   SCRATCH=.build benchmarks/python-log-event.sh    (another scratch path for the release build)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
root=$(chronolog_root)
scratch=${SCRATCH:-.build-release}
for product in ChronoLog chronolog-job chronolog; do
  (cd "$root" && swift build -c release --product "$product" --scratch-path "$scratch" >/dev/null)
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bash "$root/scripts/install.sh" --prefix "$work/prefix" --from "$root/$scratch/release" >/dev/null
# shellcheck disable=SC2046
(cd "$work" && PYTHONPATH="$work/prefix/lib/python3/site-packages" mpirun $(chronolog_mpirun_flags) \
  -n 4 "$work/prefix/bin/chronolog-job" --workload none : -n 2 /usr/bin/python3 "$root/benchmarks/python_log_event.py" "$@") \
  | grep -E "^BENCH|^  log_event|^  logging|^  ReplayStory|^  replay_array|^  events:"
