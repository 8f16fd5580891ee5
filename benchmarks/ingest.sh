#!/usr/bin/env bash
# Event ingest (issue 5), release build, in one run:
#  1. 2 writer ranks logging 256-B events as fast as they can: events/s, MiB/s, logEvent p50/p99,
#     the chunk-transfer bandwidth next to a raw fi_read of the same size, and the job summary
#     (durable.latency.p50/p99 in µs, from the graphers; events lost, which must be 0);
#  2. the archive write bandwidth next to a plain collective HDF5 write of the same bytes
#     (`archive-checks bench`, 256-B events, 2 ranks, four measurements of each alternating; the
#     ratio uses the best plain write: on this VM a new file's fresh pages make it vary 2-4x).
#   benchmarks/ingest.sh [events-per-writer] [extra chronolog-bench ingest options]
#   SCRATCH=.build-x benchmarks/ingest.sh    (another scratch path for the release build)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
events=${1:-2000000}
shift || true
size=256
for ((i = 1; i <= $#; i++)); do
  case ${!i} in
    --size) j=$((i + 1)); size=${!j} ;;
    --size=*) size=${!i#--size=} ;;
  esac
done
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# Progress lines every 0.5 s (heartbeats every 0.1 s) give the fresh pages per interval.
chronolog_bench 6 ingest --events "$events" --set progress.intervalMs=500 --set heartbeat.intervalMs=100 "$@" | tee "$out"
# Per role, from the summary: minor page faults (pages touched for the first time) per MiB of
# events logged, as a share of those bytes, and CPU seconds per million events (since the job
# was joined; service ranks' figures include their idle polling).
awk '
  /^  client \(/ { for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "bytes.logged") bytes = kv[2]; if (kv[1] == "events.logged") events = kv[2] } }
  /^  (visor|keeper|grapher|player|client) \(/ {
    role = $1; faults[role] = 0; cpu[role] = 0; order[++n] = role
    for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "faults.minor") faults[role] = kv[2]; if (kv[1] == "cpu.us") cpu[role] = kv[2] }
  }
  END {
    if (bytes == 0 || events == 0) exit
    mib = bytes / 1048576; total = 0
    printf "fresh pages and CPU per role (%.0f MiB logged):\n", mib
    for (k = 1; k <= n; k++) {
      r = order[k]; total += cpu[r]
      printf "  %-8s %8.1f faults/MiB (%5.1f %% of the bytes)  %6.2f CPU s per M events\n", r, faults[r] / mib, faults[r] * 4096 * 100 / bytes, cpu[r] / events
    }
    printf "  all ranks %.2f µs CPU per event\n", total / events
  }' "$out"

# Warm memory: the fresh pages of keepers and graphers over the second half of the progress lines
# (each line's share is of the bytes received in its interval; averaged over the lines in which
# keepers received any).
awk '
  /^chronolog-job: progress / && !/fresh.keeper=- / {
    n++
    for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] == "fresh.keeper") k[n] = kv[2] + 0; if (kv[1] == "fresh.grapher") g[n] = kv[2] + 0 }
  }
  END {
    if (n < 2) { print "fresh pages once warm: too few progress lines (a longer run shows them)"; exit }
    from = int(n / 2) + 1
    for (i = from; i <= n; i++) { ks += k[i]; gs += g[i] }
    printf "fresh pages once warm (progress lines %d-%d of %d): keeper %.1f %%, grapher %.1f %% of the bytes received\n", from, n, n, ks / (n - from + 1), gs / (n - from + 1)
  }' "$out"

echo "archive write vs plain collective HDF5 write (256-B events, 2 ranks):"
root=$(chronolog_root)
scratch=${SCRATCH:-.build-release}
(cd "$root" && swift build -c release --product archive-checks --scratch-path "$scratch" >/dev/null)
work=$(mktemp -d)
trap 'rm -rf "$work" "$out"' EXIT
# shellcheck disable=SC2046
mpirun $(chronolog_mpirun_flags) -n 2 "$root/$scratch/release/archive-checks" bench --dir "$work" --mib 256 --repeats 4 \
  --event-bytes 256 | grep -E "^BENCH|^PASS|^FAIL" | tee -a "$out"
# Durable ingest in archive bytes (each event's record plus its 32-B index entry) against the
# plain collective write into a new file measured just above.
awk -v size="$size" '
  /^  durable / { durable = $2 }
  /^BENCH best plain=/ { split($3, kv, "="); plain = kv[2] }
  END {
    if (durable == 0 || plain == 0) exit
    mib = durable * (size + 32) / 1048576
    printf "durable ingest %.0f MiB/s of archive bytes = %.2f of the plain new-file HDF5 write (%s MiB/s)\n", mib, mib / plain, plain
  }' "$out"
