#!/usr/bin/env bash
# Runs the simulator (docs/SIMULATOR.md): the real visor and 1–3 recording groups' keeper, grapher and
# player code, one thread at a time, in memory, on a manual clock, over many seeds; or replays one seed.
#
#   scripts/simulate.sh --seeds N [--first S]    N seeds from S (default: 10000 from a seed drawn now)
#   scripts/simulate.sh --seed S [--mutation M]  replay seed S (with mutation M), printing its run
#   --tight-memory                               also draw keeper memory bounds below the configurable
#                                                minimum (CHRONOLOG_SIM_TIGHT_MEMORY=1)
#   --saturated                                  records of kilobytes, small keeper and grapher bounds,
#                                                slots that fill, rounds up to 700 ms (CHRONOLOG_SIM_SATURATED=1)
#   --wide-skews                                 clocks skewed by up to ±9 ms, not ±3 ms (CHRONOLOG_SIM_WIDE_SKEWS=1)
#
# A failing seed prints a line with the command that replays it. The default test command runs
# 500 seeds from 1 (SimulatorTests); this is the longer soak for nightly use.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$(chronolog_root)"

usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; }
seeds=10000
first=""
seed=""
mutation=""
while (($#)); do
  case "$1" in
    --seeds) seeds="${2:?--seeds needs a number}"; shift 2 ;;
    --first) first="${2:?--first needs a seed}"; shift 2 ;;
    --seed) seed="${2:?--seed needs a seed}"; shift 2 ;;
    --mutation) mutation="${2:?--mutation needs a name}"; shift 2 ;;
    --tight-memory) export CHRONOLOG_SIM_TIGHT_MEMORY=1; shift ;;
    --saturated) export CHRONOLOG_SIM_SATURATED=1; shift ;;
    --wide-skews) export CHRONOLOG_SIM_WIDE_SKEWS=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "simulate.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
[[ "$seeds" =~ ^[0-9]+$ ]] || { echo "simulate.sh: --seeds takes a number, not $seeds" >&2; exit 2; }

swift build --build-tests >/dev/null
# The roles iterate dictionaries: with Swift's per-process hash seed a seed would not replay.
export SWIFT_DETERMINISTIC_HASHING=1
if [[ -n "$seed" ]]; then
  [[ "$seed" =~ ^[0-9]+$ ]] || { echo "simulate.sh: --seed takes a number, not $seed" >&2; exit 2; }
  export CHRONOLOG_SIM_SEED="$seed" CHRONOLOG_SIM_MUTATION="$mutation"
  filter='SimulatorTests.SimulatorTests/replay'
else
  [[ -n "$first" ]] || first=$(( (RANDOM << 15 | RANDOM) + 1000 ))
  [[ "$first" =~ ^[0-9]+$ ]] || { echo "simulate.sh: --first takes a number, not $first" >&2; exit 2; }
  export CHRONOLOG_SIM_SEEDS="$seeds" CHRONOLOG_SIM_FIRST_SEED="$first"
  echo "==> simulating $seeds seeds from $first"
  filter='SimulatorTests.SimulatorTests/defaultSeeds'
fi
rc=0
swift test --skip-build --no-parallel --filter "$filter" 2>&1 \
  | { grep -E '^(simulat|seed |ending|kill|violation)|✘|✔ Test' || true; } || rc=$?
exit "$rc"
