#!/usr/bin/env bash
# Installs ChronoLog-Swift under a prefix: the executables (bin/), the C library
# (lib/libchronolog.so), its header (include/chronolog.h) and lib/pkgconfig/chronolog.pc, so that
#   mpicc app.c $(pkg-config --cflags --libs chronolog)
# builds an application that runs without further flags (the .pc file carries an rpath to
# PREFIX/lib; with PKG_CONFIG_PATH=PREFIX/lib/pkgconfig when PREFIX is not a standard one).
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
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ -n $prefix ]] || { echo "install.sh: --prefix DIR is required" >&2; exit 2; }
if [[ -z $from ]]; then
  (cd "$root" && swift build -c release --product ChronoLog && swift build -c release --product chronolog-job \
    && swift build -c release --product chronolog)
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
echo "installed into $prefix (PKG_CONFIG_PATH=$prefix/lib/pkgconfig)"
