#!/usr/bin/env bash
# Runs ChronoLog-Swift as a service that separately started programs attach to (docs/ATTACH.md).
#   jobs/chronolog-service.sh [--run-dir DIR] [--port P] [--time SECONDS] [-n RANKS] [--output FILE] [chronolog-job options...]
# Starts ompi-server, then `chronolog-job --workload serve` under `mpirun --ompi-server`, and
# writes the run directory DIR (default /tmp/chronolog-$UID/service-P, P = 5555, the port of
# ChronoLog's ClientPortalServiceConf examples): ompi-server.uri, service-name, token (read-write)
# and token.read (read-only), both 0600 in a 0700 directory. Prints how to attach, then runs until
# SIGTERM/SIGINT (the job drains as usual) or SECONDS. At the end ompi-server stops and the URI and
# token files are removed (the directory too when empty), so a client then gets -8 at once. RANKS defaults to 5 (visor, keeper,
# grapher, player, gateway). CHRONOLOG_BIN names the chronolog-job binary (default: the release
# build of this checkout). --output FILE: the ranks append their output to FILE themselves instead of
# through mpirun (the sbatch twin gives its job's output file: a signalled mpirun stops forwarding
# output). Exit status: chronolog-job's (1 if the run directory is in use).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../scripts/lib.sh"
ranks=5 port=5555 run_dir="" seconds="" output=""
while [[ $# -gt 0 ]]; do
  case $1 in
    -n) ranks=$2; shift 2 ;;
    --run-dir) run_dir=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --time) seconds=$2; shift 2 ;;
    --output) output=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set /p' "${BASH_SOURCE[0]}" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) break ;;
  esac
done
run_dir="${run_dir:-/tmp/chronolog-$(id -u)/service-$port}"
bin="${CHRONOLOG_BIN:-$(cd "$here/.." && swift build -c release --show-bin-path)/chronolog-job}"
[[ -x $bin ]] || { echo "chronolog-service.sh: $bin is missing; build it with: swift build -c release --product chronolog-job (or set CHRONOLOG_BIN)" >&2; exit 1; }
umask 077
mkdir -p "$run_dir"
chmod 700 "$run_dir"
if [[ -f $run_dir/pid ]] && kill -0 "$(cat "$run_dir/pid")" 2>/dev/null; then
  echo "error: a service already runs in $run_dir (pid $(cat "$run_dir/pid"))" >&2; exit 1
fi
rm -f "$run_dir/ompi-server.uri"
new_token() { od -An -tx1 -N24 /dev/urandom | tr -d ' \n'; }
new_token > "$run_dir/token"
new_token > "$run_dir/token.read"
chmod 600 "$run_dir/token" "$run_dir/token.read"
echo "chronolog-$(hostname -s)-$$-$(new_token | cut -c1-8)" > "$run_dir/service-name"
echo $$ > "$run_dir/pid"

ompi-server --no-daemonize -r "$run_dir/ompi-server.uri" &
server=$!
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  rm -f "$run_dir/ompi-server.uri" "$run_dir/token" "$run_dir/token.read" "$run_dir/pid" "$run_dir/service-name"
  rmdir "$run_dir" 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 100); do [[ -s $run_dir/ompi-server.uri ]] && break; sleep 0.05; done
[[ -s $run_dir/ompi-server.uri ]] || { echo "error: ompi-server wrote no URI to $run_dir/ompi-server.uri" >&2; exit 1; }

cat <<MSG
chronolog-service: serving from $run_dir
  attach from Python:  CHRONOLOG_ATTACH_RUN_DIRECTORY=$run_dir python3 script.py   (or nothing, for the default directory)
  attach from C:       chronolog_attach("$run_dir", 0) before chronolog_connect; run ./app, or
                       mpirun --ompi-server file:$run_dir/ompi-server.uri -n N ./app
  watch:               chronolog tail --run-dir $run_dir CHRONICLE STORY
  read-only access:    give a colleague $run_dir/token.read (CHRONOLOG_ATTACH_TOKEN_FILE)
MSG
serve_args=(--workload serve --run-dir "$run_dir")
[[ -n $seconds ]] && serve_args+=(--serve-seconds "$seconds")
launch=("$bin")
if [[ -n $output ]]; then
  # The ranks append their output to this file themselves, not through mpirun (see the sbatch twin).
  # shellcheck disable=SC2016
  launch=(bash -c 'out=$1; shift; exec "$@" >>"$out" 2>&1' chronolog-rank "$output" "$bin")
fi
# shellcheck disable=SC2046
mpirun $(chronolog_mpirun_flags) --ompi-server "file:$run_dir/ompi-server.uri" -n "$ranks" "${launch[@]}" "${serve_args[@]}" "$@" &
job=$!
# SIGTERM/SIGINT go to the ranks themselves (mpirun's children on this node, where the visor and
# the gateway run), as scancel does: the job drains and ends by itself. mpirun, when signalled,
# would forward the signal only after odls_base_sigkill_timeout and stop serving the name server.
stop_job() { pkill -TERM -P "$job" 2>/dev/null || kill -TERM "$job" 2>/dev/null || true; }
trap stop_job TERM INT
status=0
while true; do
  wait "$job" && { status=0; break; } || status=$?
  kill -0 "$job" 2>/dev/null || break
done
exit "$status"
