#!/usr/bin/env bash
# Installs what is needed, builds, and runs the main job on its default:
#   mpirun -n 6 chronolog-job
# Extra arguments go to chronolog-job (e.g. `bash scripts/run-job.sh --help`).
# CHRONOLOG_RANKS changes -n.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$(chronolog_root)"
chronolog_ensure_packages
echo "==> building (release)"
swift build -c release --product chronolog-job
ranks=${CHRONOLOG_RANKS:-6}
echo "==> mpirun -n $ranks chronolog-job $*"
# shellcheck disable=SC2046
exec mpirun $(chronolog_mpirun_flags) -n "$ranks" "$(swift build -c release --show-bin-path)/chronolog-job" "$@"
