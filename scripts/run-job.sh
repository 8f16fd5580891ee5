#!/usr/bin/env bash
# Installs what is needed, builds, and runs the main job on its default:
#   mpirun -n 6 chronolog-job
# Extra arguments go to chronolog-job (e.g. `bash scripts/run-job.sh --help`).
# CHRONOLOG_RANKS changes -n; CHRONOLOG_BIN runs that chronolog-job binary instead of building one.
# Neither is a configuration key: chronolog-job ignores them (they reach every rank through mpirun).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$(chronolog_root)"
chronolog_ensure_packages
if [[ -n ${CHRONOLOG_BIN:-} ]]; then
  bin=$CHRONOLOG_BIN
else
  echo "==> building (release)"
  swift build -c release --product chronolog-job
  bin="$(swift build -c release --show-bin-path)/chronolog-job"
fi
[[ -x $bin ]] || { echo "error: $bin is not an executable chronolog-job" >&2; exit 1; }
ranks=${CHRONOLOG_RANKS:-6}
[[ $ranks =~ ^[1-9][0-9]*$ ]] || { echo "error: CHRONOLOG_RANKS must be a positive number of ranks, got '$ranks'" >&2; exit 2; }
echo "==> mpirun -n $ranks chronolog-job $*"
# shellcheck disable=SC2046
exec mpirun $(chronolog_mpirun_flags) -n "$ranks" "$bin" "$@"
