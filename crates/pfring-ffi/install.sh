#!/bin/sh
# Installs libpfring (built by `cargo build -p pfring-ffi`), pfring.h, pfring.hpp and a
# pkg-config file under a prefix. Normally run through `cargo run -p xtask -- install`, which
# builds the release library first.
#
#   install.sh --prefix DIR --from TARGET_PROFILE_DIR [--destdir DIR]
#
# Layout: $prefix/lib/libpfring.so, $prefix/lib/libpfring.a, $prefix/include/pfring.h,
# $prefix/include/pfring.hpp, $prefix/lib/pkgconfig/pfring.pc
set -eu

prefix=/usr/local
from=
destdir=
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix=$2; shift 2 ;;
    --from) from=$2; shift 2 ;;
    --destdir) destdir=$2; shift 2 ;;
    *) echo "install.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$from" ] || { echo "install.sh: --from TARGET_PROFILE_DIR is required" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
for f in "$from/libpfring.so" "$from/libpfring.a"; do
  [ -f "$f" ] || { echo "install.sh: $f missing (cargo build -p pfring-ffi first)" >&2; exit 1; }
done
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$here/../../Cargo.toml" | head -n1)

root=$destdir$prefix
install -d "$root/lib/pkgconfig" "$root/include"
install -m 0755 "$from/libpfring.so" "$root/lib/libpfring.so"
install -m 0644 "$from/libpfring.a" "$root/lib/libpfring.a"
install -m 0644 "$here/include/pfring.h" "$here/include/pfring.hpp" "$root/include/"
cat > "$root/lib/pkgconfig/pfring.pc" <<PC
prefix=$prefix
exec_prefix=\${prefix}
libdir=\${exec_prefix}/lib
includedir=\${prefix}/include

Name: pfring
Description: PF_RING 5.4 C API (libpfring) implemented by pfring-rs $version
Version: 5.4.0
Libs: -L\${libdir} -lpfring
Libs.private: -lpthread -ldl -lm -lrt -lgcc_s
Cflags: -I\${includedir}
PC
echo "installed libpfring $version (PF_RING API 5.4.0) under $root"
