#!/usr/bin/env bash
# IOR-style scaling series: `chronolog-bench ior` (CHRONOLOG next to POSIX, MPI-IO and HDF5 on the
# same events) on 1, 2, 4, … nodes, weak and strong scaling, each run writing its JSON summary and
# its plot, then one plot and table per series.
#
#   jobs/ior-scaling.sh [options] [-- chronolog-bench ior options...]
#
#   --nodes "1 2 4"      node counts to run (default: 1 2 4 … up to the allocation's nodes under
#                        srun; 1 2 with mpirun)
#   --tasks-per-node T   ranks per node (default 6: on each node a keeper, a grapher and a player,
#                        the visor on the first; the rest are writers: writers = T×N − 3N − 1)
#   --series weak|strong|both   (default both)
#   -t BYTES             event record bytes (default 256)
#   -b SIZE              weak scaling: event record bytes per writer (default 16m; suffix k, m, g)
#   --total SIZE         strong scaling: event record bytes of all writers together (default 256m),
#                        split evenly in whole events (the remainder of the division is not written)
#   --out DIR            results (default ior-scaling-<date>): ior-<series>-<N>n.json and .png per
#                        run, scaling-<series>.png and scaling-<series>.txt per series
#   --launcher mpirun|srun   (default mpirun; jobs/ior-scaling.sbatch passes srun)
#   --hostfile FILE      mpirun only: real nodes from FILE (ranks mapped T per node); without it,
#                        N nodes are N virtual nodes of this machine (deployment.virtualNodes=N)
#   -h, --help           this text
#
# Environment: CHRONOLOG_BENCH_BIN, the chronolog-bench binary (default: this checkout's
# .build/release/chronolog-bench, built by `swift build -c release --product chronolog-bench`);
# CHRONOLOG_SRUN_MPI, srun's --mpi plugin (default pmix). Neither is a configuration key.
# Fails at once, with the command that builds it, when the binary is missing. Plots need
# matplotlib (Debian's python3-matplotlib, run by /usr/bin/python3); without it the JSON is still
# written and the plots are skipped with a warning. Exit status: 0, or the first failing run's.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
# shellcheck source=../scripts/lib.sh
source "$root/scripts/lib.sh"

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'; }
die() { echo "ior-scaling: $*" >&2; exit 2; }

# Bytes from a size with an optional k, m or g suffix (powers of 1024).
bytes_of() {
  local v=$1 n m=1
  case $v in
    *[kK]) m=1024; n=${v%?} ;; *[mM]) m=$((1 << 20)); n=${v%?} ;; *[gG]) m=$((1 << 30)); n=${v%?} ;; *) n=$v ;;
  esac
  [[ $n =~ ^[0-9]+$ && $n -gt 0 ]] || die "bad size '$v' (a positive number, suffix k, m or g)"
  echo $((n * m))
}

nodes_list="" tpn=6 series=both event=256 block=16m total=256m out="" launcher=mpirun hostfile=""
while (($#)); do
  case $1 in
    --nodes) nodes_list=${2:?}; shift 2 ;;
    --tasks-per-node) tpn=${2:?}; shift 2 ;;
    --series) series=${2:?}; shift 2 ;;
    -t) event=${2:?}; shift 2 ;;
    -b) block=${2:?}; shift 2 ;;
    --total) total=${2:?}; shift 2 ;;
    --out) out=${2:?}; shift 2 ;;
    --launcher) launcher=${2:?}; shift 2 ;;
    --hostfile) hostfile=${2:?}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    --) shift; break ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
[[ $series =~ ^(weak|strong|both)$ ]] || die "--series must be weak, strong or both"
[[ $launcher =~ ^(mpirun|srun)$ ]] || die "--launcher must be mpirun or srun"
[[ $tpn =~ ^[0-9]+$ && $tpn -ge 5 ]] || die "--tasks-per-node must be at least 5 (visor, keeper, grapher, player and a writer)"
event=$(bytes_of "$event")
block=$(bytes_of "$block")
total=$(bytes_of "$total")

bin=${CHRONOLOG_BENCH_BIN:-$root/.build/release/chronolog-bench}
[[ -x $bin ]] || { echo "ior-scaling: $bin is missing; build it with: swift build -c release --product chronolog-bench" \
  "(or set CHRONOLOG_BENCH_BIN)" >&2; exit 1; }
python=/usr/bin/python3
[[ -x $python ]] || python=python3
plots=1
"$python" -c "import matplotlib, numpy" 2>/dev/null || {
  echo "ior-scaling: warning: no matplotlib for $python (Debian: python3-matplotlib); the plots are skipped" >&2; plots=0; }

if [[ -z $nodes_list ]]; then
  max=2
  [[ $launcher == srun ]] && max=${SLURM_JOB_NUM_NODES:?"--launcher srun runs inside a Slurm allocation (sbatch jobs/ior-scaling.sbatch)"}
  nodes_list="" n=1
  while ((n <= max)); do nodes_list+="$n "; n=$((n * 2)); done
fi
out=${out:-ior-scaling-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"

# Runs chronolog-bench ior on N nodes with the given ior options.
launch() {
  local n=$1; shift
  if [[ $launcher == srun ]]; then
    srun --mpi="${CHRONOLOG_SRUN_MPI:-pmix}" -N "$n" -n $((n * tpn)) --ntasks-per-node "$tpn" "$bin" ior "$@"
  elif [[ -n $hostfile ]]; then
    # shellcheck disable=SC2046
    mpirun $(chronolog_mpirun_flags) --hostfile "$hostfile" --map-by "ppr:$tpn:node" \
      -n $((n * tpn)) "$bin" ior "$@"
  else
    # shellcheck disable=SC2046
    mpirun $(chronolog_mpirun_flags) -n $((n * tpn)) "$bin" ior \
      --set deployment.virtualNodes="$n" "$@"
  fi
}

status=0
for s in weak strong; do
  [[ $series == both || $series == "$s" ]] || continue
  jsons=()
  for n in $nodes_list; do
    writers=$((n * tpn - 3 * n - 1))
    if [[ $s == weak ]]; then events=$((block / event)); else events=$((total / event / writers)); fi
    ((events > 0)) || die "$s scaling on $n node(s): less than one $event-B event per writer"
    json="$out/ior-$s-${n}n.json"
    echo "==> $s scaling, $n node(s), $writers writer(s), $events events of $event B each"
    if launch "$n" -t "$event" -b "${events}e" -o "$out/data-$s-${n}n" --json "$json" "$@"; then
      jsons+=("$json")
      ((plots)) && "$python" "$root/benchmarks/plot.py" "$json" -o "${json%.json}.png" >/dev/null
    else
      rc=$?; echo "ior-scaling: the $s run on $n node(s) failed (exit $rc)" >&2; ((status)) || status=$rc
    fi
    rm -rf "$out/data-$s-${n}n"
  done
  if ((plots && ${#jsons[@]})); then
    "$python" "$root/benchmarks/plot.py" --scaling "$out/scaling-$s.png" --title "chronolog-bench ior, $s scaling" "${jsons[@]}" \
      | tee "$out/scaling-$s.txt"
  fi
done
echo "results in $out"
exit $status
