#!/usr/bin/env bash
# Metadata-call rates (issue 4): connect, create chronicle, acquire and release with 1 and 4
# client ranks. Release build; every client calls at once; rate = all ops / slowest client.
#   benchmarks/metadata.sh [count-per-client]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$(chronolog_root)"
count=${1:-2000}
swift build -c release --product chronolog-bench --scratch-path .build-release >/dev/null
bin=.build-release/release/chronolog-bench
for clients in 1 4; do
  # shellcheck disable=SC2046
  mpirun $(chronolog_mpirun_flags) -n $((4 + clients)) "$bin" metadata --count "$count" | sed -n '/metadata rates/,/releaseStory/p'
done
echo "ChronoLog v2.7 single-node sample: 845 connects/s, 555 acquires/s, 248 releases/s"
