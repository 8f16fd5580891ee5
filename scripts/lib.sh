# Shared by the project's scripts: system packages and mpirun flags. Source it; do not run it.
# shellcheck shell=bash

# Debian packages the build, the tests and the jobs need (OpenMPI 4.1, and gfortran for its
# mpifort wrapper, which the Fortran module needs; libfabric 1.17, parallel HDF5 1.10 and its
# tools, h5py and mpi4py for the Python-side checks; python3-dev, pip, venv, wheel and pytest to
# build and test the Python module py_chronolog_client; matplotlib for benchmarks/plot.py and
# scripts/plot-events.py; and for the tests of the jobs/ scripts, the shellcheck linter and a
# one-node Slurm).
CHRONOLOG_APT_PACKAGES=(
  libopenmpi-dev openmpi-bin gfortran libfabric-dev libfabric-bin libhdf5-openmpi-dev hdf5-tools
  pkg-config python3-h5py python3-h5py-mpi python3-mpi4py python3-numpy python3-matplotlib
  python3-dev python3-pip python3-venv python3-pytest python3-wheel python3-wheel-whl
  shellcheck slurmctld slurmd slurm-client
)

chronolog_root() { cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd; }

# Installs whatever is missing (idempotent: nothing is done when all are present).
chronolog_ensure_packages() {
  local missing=()
  for p in "${CHRONOLOG_APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "==> installing: ${missing[*]}"
    local sudo=()
    if [[ $EUID -ne 0 ]]; then
      command -v sudo >/dev/null || { echo "error: need root or sudo to install ${missing[*]}" >&2; return 1; }
      sudo=(sudo)
    fi
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
  command -v swift >/dev/null || [[ -x /opt/swift/usr/bin/swift ]] || {
    echo "error: no Swift toolchain on PATH (Swift 6.1 or newer is required)" >&2; return 1; }
  command -v swift >/dev/null || export PATH=/opt/swift/usr/bin:$PATH
}

# mpirun flags for this kind of machine: root is allowed, more ranks than cores is normal
# (--oversubscribe), and ranks are not pinned so the OS can share the few cores. On SIGTERM or
# Ctrl-C, OpenMPI's mpirun waits odls_base_sigkill_timeout seconds, sends SIGTERM to the ranks,
# waits as long again and then kills them: 10 s leaves the job time to drain.
chronolog_mpirun_flags() {
  local flags=(--oversubscribe --bind-to none --mca odls_base_sigkill_timeout 10)
  [[ $EUID -eq 0 ]] && flags=(--allow-run-as-root "${flags[@]}")
  echo "${flags[@]}"
}

# Builds chronolog-bench (release; scratch path $SCRATCH, default .build-release) and runs
# `chronolog-bench ARGS...` under mpirun with RANKS ranks, in a fresh temporary directory (its
# archive is removed afterwards).   Usage: chronolog_bench RANKS ARGS...
chronolog_bench() {
  local ranks=$1; shift
  local root scratch work
  root=$(chronolog_root)
  scratch=${SCRATCH:-.build-release}
  (cd "$root" && swift build -c release --product chronolog-bench --scratch-path "$scratch" >/dev/null)
  work=$(mktemp -d)
  local status=0
  # shellcheck disable=SC2046
  (cd "$work" && mpirun $(chronolog_mpirun_flags) -n "$ranks" "$root/$scratch/release/chronolog-bench" "$@") || status=$?
  rm -rf "$work"
  return $status
}
