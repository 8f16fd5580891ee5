#!/usr/bin/env bash
# Installs ChronoLog-Swift under a prefix: the executables (bin/), the C library
# (lib/libchronolog.so), its header (include/chronolog.h), the Fortran module (include/chronolog.mod,
# lib/libchronolog_fortran.so, built with mpifort) and lib/pkgconfig/chronolog.pc and
# chronolog-fortran.pc, so that
#   mpicc app.c $(pkg-config --cflags --libs chronolog)
#   mpifort app.f90 $(pkg-config --cflags --libs chronolog-fortran)
# build applications that run without further flags (the .pc files carry an rpath to
# PREFIX/lib; with PKG_CONFIG_PATH=PREFIX/lib/pkgconfig when PREFIX is not a standard one).
# Without a working mpifort the Fortran module is skipped (with a message). It also installs the
# Python module py_chronolog_client for Debian's python3 (PREFIX/lib/python3/site-packages).
#
# usage: scripts/install.sh --prefix DIR [--from BUILD_DIR]
#   --prefix DIR      where to install (created if needed)
#   --from BUILD_DIR  install the products of an existing build directory (`swift build
#                     --show-bin-path`) instead of building them (`swift build -c release`)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
root=$(chronolog_root)
prefix="" from=""
while (($#)); do
  case "$1" in
    --prefix) prefix=${2:?--prefix needs a directory}; shift 2 ;;
    --from) from=${2:?--from needs a build directory}; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ -n $prefix ]] || { echo "install.sh: --prefix DIR is required" >&2; exit 2; }
if [[ -z $from ]]; then
  command -v swift >/dev/null || { echo "install.sh: no swift on PATH (Swift 6.1 or newer builds the products)" >&2; exit 1; }
  for product in ChronoLog chronolog-job chronolog chronolog-bench; do
    (cd "$root" && swift build -c release --product "$product")
  done
  from=$(cd "$root" && swift build -c release --show-bin-path)
fi
for f in libChronoLog.so chronolog-job chronolog; do
  [[ -f $from/$f ]] || { echo "install.sh: $from/$f is missing (build first, or drop --from)" >&2; exit 1; }
done
mkdir -p "$prefix"
prefix=$(cd "$prefix" && pwd)
install -d "$prefix/bin" "$prefix/lib/pkgconfig" "$prefix/include"
install -m 0755 "$from/chronolog-job" "$from/chronolog" "$prefix/bin/"
[[ -f $from/chronolog-bench ]] && install -m 0755 "$from/chronolog-bench" "$prefix/bin/"
# The build names it after the product (libChronoLog.so: `chronolog` is the CLI's product name);
# installed, it is libchronolog.so, which is what -lchronolog finds and records.
install -m 0755 "$from/libChronoLog.so" "$prefix/lib/libchronolog.so"
install -m 0644 "$root/Sources/CChronoLog/include/chronolog.h" "$prefix/include/"
cat > "$prefix/lib/pkgconfig/chronolog.pc" <<PC
prefix=$prefix
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: chronolog
Description: ChronoLog-Swift: log events from MPI applications into a time-ordered store (C interface)
Version: 0.1.0
Requires: ompi-c
Cflags: -I\${includedir}
Libs: -L\${libdir} -Wl,-rpath,\${libdir} -lchronolog
PC

# The Fortran module: chronolog.f90 over ISO_C_BINDING plus the C shim converting MPI handles.
fortran=$root/Sources/ChronoLogFortran
if mpifort --version >/dev/null 2>&1; then
  objects=$(mktemp -d)
  mpicc -O2 -fPIC -I "$prefix/include" -c "$fortran/chronolog_fortran.c" -o "$objects/chronolog_fortran_c.o"
  mpifort -O2 -fPIC -J "$objects" -c "$fortran/chronolog.f90" -o "$objects/chronolog.o"
  mpifort -shared -o "$prefix/lib/libchronolog_fortran.so" "$objects/chronolog.o" "$objects/chronolog_fortran_c.o" \
    -L "$prefix/lib" -Wl,-rpath,"$prefix/lib" -lchronolog
  install -m 0644 "$objects/chronolog.mod" "$prefix/include/"
  rm -rf "$objects"
  cat > "$prefix/lib/pkgconfig/chronolog-fortran.pc" <<PC
prefix=$prefix
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: chronolog-fortran
Description: ChronoLog-Swift Fortran module (use chronolog), for mpifort
Version: 0.1.0
Requires: chronolog
Cflags: -I\${includedir}
Libs: -L\${libdir} -Wl,-rpath,\${libdir} -lchronolog_fortran
PC
else
  echo "install.sh: mpifort does not work (Debian: apt-get install gfortran); the Fortran module is not installed" >&2
fi

# The Python module py_chronolog_client (python/), built against the library just installed, for
# Debian's python3, into PREFIX/lib/python3/site-packages (other Pythons: pip install ./python).
python_site="$prefix/lib/python3/site-packages"
if /usr/bin/python3 -c 'import sysconfig, os, sys; sys.exit(not os.path.exists(sysconfig.get_paths()["include"] + "/Python.h"))' 2>/dev/null; then
  src=$(mktemp -d)
  cp -r "$root/python/." "$src/" && rm -rf "$src/build" "$src"/*.egg-info "$src"/py_chronolog_client/*.so
  if PKG_CONFIG_PATH="$prefix/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}" PIP_ROOT_USER_ACTION=ignore \
    /usr/bin/python3 -m pip install -q --no-index --no-build-isolation --no-deps --upgrade --target "$python_site" "$src"; then
    echo "installed py_chronolog_client for /usr/bin/python3 (PYTHONPATH=$python_site)"
  else
    echo "install.sh: building py_chronolog_client for /usr/bin/python3 failed (see above); the rest is installed" >&2
  fi
  rm -rf "$src"
else
  echo "install.sh: no Python.h for /usr/bin/python3 (apt-get install python3-dev): py_chronolog_client not installed" >&2
fi
echo "installed into $prefix (PKG_CONFIG_PATH=$prefix/lib/pkgconfig)"
