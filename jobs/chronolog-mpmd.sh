#!/usr/bin/env bash
# An MPI application logging to a ChronoLog-Swift deployment in the same mpirun job (MPMD), on
# this machine: the first ranks run the service (chronolog-job --workload none: the visor, then a
# recording group of K keepers, a grapher and a player per node), the others run APP, which joins
# with ChronoJob.join(asService: false) (Swift) or chronolog_join (C) and logs.
#
#   jobs/chronolog-mpmd.sh [-n APP_RANKS] [--nodes V] [--keepers-per-node K] -- APP [APP ARGS...]
#
#   -n APP_RANKS          application ranks (default 2)
#   --nodes V             recording groups, as V virtual nodes of this machine (default 1)
#   --keepers-per-node K  keepers per recording group (default 1)
#   -h, --help            this text
# Service ranks: 1 + V × (K + 2). The job's configuration comes from CHRONOLOG_* variables and
# $CHRONOLOG_CONFIG as for chronolog-job; --nodes and --keepers-per-node set
# CHRONOLOG_DEPLOYMENT_VIRTUAL_NODES and CHRONOLOG_DEPLOYMENT_KEEPERS_PER_NODE for every rank, so the
# service and the application agree on the layout. Across several machines use
# jobs/chronolog-mpmd.sbatch (Slurm places a recording group on every node).
# CHRONOLOG_BIN names the chronolog-job binary (default: this checkout's
# .build/release/chronolog-job); it is not a configuration key. Fails at once when chronolog-job or
# APP is missing. The exit status is mpirun's.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
# shellcheck source=../scripts/lib.sh
source "$root/scripts/lib.sh"
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'; }
die() { echo "chronolog-mpmd: $*" >&2; exit 2; }

app_ranks=2 nodes=1 keepers=1
while (($#)); do
  case $1 in
    -n) app_ranks=${2:?}; shift 2 ;;
    --nodes) nodes=${2:?}; shift 2 ;;
    --keepers-per-node) keepers=${2:?}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    --) shift; break ;;
    *) die "unknown option '$1' (see --help; the application follows --)" ;;
  esac
done
for v in "$app_ranks" "$nodes" "$keepers"; do [[ $v =~ ^[1-9][0-9]*$ ]] || die "'$v' is not a positive number"; done
(($#)) || die "no application: jobs/chronolog-mpmd.sh [options] -- APP [ARGS...]"
bin=${CHRONOLOG_BIN:-$root/.build/release/chronolog-job}
[[ -x $bin ]] || { echo "chronolog-mpmd: $bin is missing; build it with: swift build -c release --product chronolog-job" \
  "(or set CHRONOLOG_BIN)" >&2; exit 1; }
app=$(command -v "$1" || true)
[[ -n $app && -x $app ]] || { echo "chronolog-mpmd: application '$1' is not an executable file" >&2; exit 1; }
shift
service=$((1 + nodes * (keepers + 2)))
export CHRONOLOG_DEPLOYMENT_VIRTUAL_NODES=$nodes CHRONOLOG_DEPLOYMENT_KEEPERS_PER_NODE=$keepers
# shellcheck disable=SC2046
exec mpirun $(chronolog_mpirun_flags) -x CHRONOLOG_DEPLOYMENT_VIRTUAL_NODES -x CHRONOLOG_DEPLOYMENT_KEEPERS_PER_NODE \
  -n "$service" "$bin" --workload none : -n "$app_ranks" "$app" "$@"
