#!/usr/bin/env bash
# Runs a ChronoLog-Swift deployment under mpirun on the current allocation or machine.
#   jobs/chronolog-job.sh [-n RANKS] [chronolog-job options...]
# RANKS defaults to 6 (visor, keeper, grapher, player and two clients on one node).
# CHRONOLOG_BIN names the chronolog-job binary (default: the release build of this checkout); it is
# not a configuration key, chronolog-job ignores it.
# --help prints this text and, when it is built, chronolog-job's options.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../scripts/lib.sh"
ranks=6
if [[ ${1:-} == -n ]]; then ranks=$2; shift 2; fi
bin="${CHRONOLOG_BIN:-$(cd "$here/.." && swift build -c release --show-bin-path)/chronolog-job}"
if [[ ${1:-} == -h || ${1:-} == --help ]]; then
  awk 'NR == 1 { next } !/^#/ { exit } { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}"
  if [[ -x $bin ]]; then echo; "$bin" --help; else echo; echo "($bin is not built: swift build -c release --product chronolog-job)"; fi
  exit 0
fi
[[ -x $bin ]] || { echo "error: $bin not built; run: swift build -c release --product chronolog-job" >&2; exit 1; }
# shellcheck disable=SC2046
exec mpirun $(chronolog_mpirun_flags) -n "$ranks" "$bin" "$@"
