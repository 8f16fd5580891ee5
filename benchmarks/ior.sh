#!/usr/bin/env bash
# IOR-style comparison (issue 15), release build: `chronolog-bench ior` stores the same events through
# CHRONOLOG, POSIX, MPI-IO and HDF5 in one job and prints IOR's table, "Summary of all tests", the
# per-event figures and CHRONOLOG's ratios to the best baseline; then benchmarks/plot.py draws the
# throughput over time.
#   benchmarks/ior.sh [RANKS] [chronolog-bench ior options...]
# RANKS is mpirun -n (default 6: visor, keeper, grapher, player and 2 writers). Options default to
# chronolog-bench's (`chronolog-bench ior --help`: -t 256, -b 1m, all four APIs), e.g.
#   benchmarks/ior.sh 6 -t 256 -b 64m -i 3
# Writes OUT/ior.json and OUT/ior.png, OUT being $IOR_OUT (default ./ior-results); the run itself
# happens in a temporary directory, removed afterwards. SCRATCH=.build-x picks another scratch path
# for the release build. Without matplotlib (Debian: python3-matplotlib) the plot is skipped.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
ranks=6
if [[ ${1:-} =~ ^[0-9]+$ ]]; then ranks=$1; shift; fi
out=${IOR_OUT:-ior-results}
mkdir -p "$out"
out=$(cd "$out" && pwd)
chronolog_bench "$ranks" ior --json "$out/ior.json" "$@"
python=/usr/bin/python3
[[ -x $python ]] || python=python3
if "$python" -c "import matplotlib, numpy" 2>/dev/null; then
  "$python" "$(chronolog_root)/benchmarks/plot.py" "$out/ior.json" -o "$out/ior.png"
else
  echo "benchmarks/ior.sh: no matplotlib for $python (Debian: python3-matplotlib); the plot is skipped" >&2
fi
