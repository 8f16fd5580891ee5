#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for running the jobs/*.sbatch scripts for real
# (Debian's slurmctld + slurmd 22.05; no munge: auth/none; run as root).
#   scripts/slurm-local.sh start DIR   writes DIR/slurm.conf, starts slurmctld and slurmd, waits
#                                      until the node is idle, prints `export SLURM_CONF=DIR/slurm.conf`
#   scripts/slurm-local.sh stop DIR    stops the two daemons started with DIR (by their pid files)
# The node offers 16 CPUs whatever the machine has (SlurmdParameters=config_overrides), so jobs of
# 6–16 tasks run oversubscribed like mpirun --oversubscribe. Ports 16817/16818 (not Slurm's default).
# Exit status: 0; 1 when a daemon is missing or does not come up (its log is printed).
set -euo pipefail
cmd=${1:-} dir=${2:-}
[[ $cmd =~ ^(start|stop)$ && -n $dir ]] || { sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
if [[ $cmd == stop ]]; then
  for d in slurmd slurmctld; do
    [[ -f $dir/$d.pid ]] && kill "$(cat "$dir/$d.pid")" 2>/dev/null || true
  done
  exit 0
fi
for d in slurmctld slurmd sinfo sbatch; do
  command -v "$d" >/dev/null || { echo "slurm-local: $d is missing (Debian: slurmctld slurmd slurm-client)" >&2; exit 1; }
done
mkdir -p "$dir/state" "$dir/spool"
dir=$(cd "$dir" && pwd)
host=$(hostname -s)
cat > "$dir/slurm.conf" <<CONF
ClusterName=chronolog
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/none
CredType=cred/none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
SlurmctldPort=16817
SlurmdPort=16818
MpiDefault=none
ReturnToService=2
SlurmdParameters=config_overrides
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName=$host CPUs=16 Boards=1 SocketsPerBoard=1 CoresPerSocket=16 ThreadsPerCore=1 RealMemory=4000 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
CONF
export SLURM_CONF=$dir/slurm.conf
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for _ in $(seq 1 60); do
  if sinfo -h -o %T 2>/dev/null | grep -q idle; then echo "export SLURM_CONF=$SLURM_CONF"; exit 0; fi
  sleep 0.5
done
echo "slurm-local: the node did not become idle within 30 s" >&2
tail -n 20 "$dir/slurmctld.log" "$dir/slurmd.log" >&2 || true
exit 1
