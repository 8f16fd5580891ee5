#!/usr/bin/env bash
# Installs ChronoLog-Swift under a prefix: the executables (bin/), the C library
# (lib/libchronolog.so), its header (include/chronolog.h), the Fortran module (include/chronolog.mod,
# lib/libchronolog_fortran.so, built with mpifort) and lib/pkgconfig/chronolog.pc and
# chronolog-fortran.pc, so that
#   mpicc app.c $(pkg-config --cflags --libs chronolog)
#   mpifort app.f90 $(pkg-config --cflags --libs chronolog-fortran)
# build applications that run without further flags (the .pc files carry an rpath to
# PREFIX/lib; with PKG_CONFIG_PATH=PREFIX/lib/pkgconfig when PREFIX is not a standard one).
# Without a working mpifort the Fortran module is skipped (with a message).
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
  trap 'rm -rf "$objects"' EXIT
  mpicc -O2 -fPIC -I "$prefix/include" -c "$fortran/chronolog_fortran.c" -o "$objects/chronolog_fortran_c.o"
  mpifort -O2 -fPIC -J "$objects" -c "$fortran/chronolog.f90" -o "$objects/chronolog.o"
  mpifort -shared -o "$prefix/lib/libchronolog_fortran.so" "$objects/chronolog.o" "$objects/chronolog_fortran_c.o" \
    -L "$prefix/lib" -Wl,-rpath,"$prefix/lib" -lchronolog
  install -m 0644 "$objects/chronolog.mod" "$prefix/include/"
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
echo "installed into $prefix (PKG_CONFIG_PATH=$prefix/lib/pkgconfig)"
