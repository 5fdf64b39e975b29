#!/usr/bin/env bash
# Cross-compiles Pillow for wasm32-wasi into build/wasi/site-packages/PIL (idempotent, incremental):
#   zlib-ng (zlib-compatible), libjpeg-turbo and libwebp as static PIC libraries, built with
#   CMake; Pillow's C sources compiled directly with wasm-cc into _imaging, _imagingmath,
#   _imagingmorph and _webp (setup.py's build needs a native Pillow toolchain, and its
#   dependency probing would look at the host's libraries, not ours).
#   _imaging is then instrumented with binaryen's Asyncify, so that libjpeg's fatal errors
#   (longjmp) become Python exceptions without the wasm exceptions proposal: include/setjmp.h.
# Image formats: JPEG (libjpeg-turbo), PNG (zlib-ng), WebP (libwebp: what browsers save), and
# whatever Pillow decodes by itself (GIF, BMP, TIFF without compression libraries, ...). No
# libtiff, FreeType, LittleCMS, OpenJPEG or libavif: the formats they add are answered 415 by
# the component (component/formats.py), and each is another library port.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
here=$root/wasi/pillow
W=$root/build/wasi
B=$W/pillow-build
prefix=$B/prefix
site=$W/site-packages
mkdir -p "$B/logs"

# run LOG CMD...: runs CMD with its output in $B/logs/LOG.log; on failure shows the log's tail
# and exits with CMD's status.
run() {
  local log=$B/logs/$1.log
  shift
  "$@" >"$log" 2>&1 || {
    local rc=$?
    echo "pillow: FAILED ($rc): $*" >&2
    tail -n 40 "$log" >&2
    exit "$rc"
  }
}

# unpack TARBALL FOLDER DEST [TAR OPTIONS]: extracts one folder of a source tarball into DEST,
# again only when the tarball is newer than the last extraction. -m gives the files the
# extraction time, so that objects built from an older tarball count as stale.
unpack() {
  local tarball=$1 folder=$2 dest=$3
  shift 3
  [ "$dest/.unpacked" -nt "$tarball" ] && return
  echo "pillow: unpacking $folder"
  rm -rf "$dest" && mkdir -p "$dest"
  local depth=${folder//[^\/]/}
  tar -xzmf "$tarball" -C "$dest" --strip-components=$((${#depth} + 1)) "$@" "$folder"
  touch "$dest/.unpacked"
}

# cmake_lib NAME SRC OPTIONS...: configures afresh (when new, or when the sources, the toolchain
# file or the compiler wrapper changed), builds and installs a static library into $prefix.
cmake_lib() {
  local name=$1 src=$2 bld=$B/$1
  shift 2
  if [ ! -f "$bld/CMakeCache.txt" ] || [ "$src/.unpacked" -nt "$bld/CMakeCache.txt" ] \
      || [ "$here/wasi.cmake" -nt "$bld/CMakeCache.txt" ] \
      || [ "$root/wasi/bin/wasm-cc" -nt "$bld/CMakeCache.txt" ]; then
    rm -rf "$bld"
    echo "pillow: configuring $name"
    run "$name-configure" cmake -S "$src" -B "$bld" -G Ninja \
      -DCMAKE_TOOLCHAIN_FILE="$here/wasi.cmake" -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_INSTALL_LIBDIR=lib "$@"
  fi
  echo "pillow: building $name"
  run "$name-build" cmake --build "$bld" -j 2
  run "$name-install" cmake --install "$bld"
}

# wasm-opt for Asyncify: Debian 12's binaryen (108) has what is needed (tools/apt-install.sh cross).
tools/apt-install.sh cross

# Versions and files as wasi/sources.lock pins them; libjpeg-turbo's is the one simplejpeg's
# sdist carries.
source "$root/wasi/lock.sh"
dl=$W/downloads
zlib_ng=zlib_ng-$(locked_version zlib-ng)
simplejpeg=simplejpeg-$(locked_version simplejpeg)
LIBJPEG_TURBO=3.1.2
webp=$(locked_version libwebp)
webp=libwebp-${webp%-*}  # the upstream tarball's folder: Debian's revision off
pillow=pillow-$(locked_version pillow)
unpack "$dl/$(locked_file zlib-ng)" "$zlib_ng/src/zlib_ng/zlib-ng" "$B/src/zlib-ng"
unpack "$dl/$(locked_file simplejpeg)" "$simplejpeg/lib/libjpeg-turbo-$LIBJPEG_TURBO" "$B/src/libjpeg-turbo"
unpack "$dl/$(locked_file libwebp)" "$webp" "$B/src/libwebp"
# Pillow's test images and docs are most of its tarball and not needed.
unpack "$dl/$(locked_file pillow)" "$pillow" "$B/src/pillow" --exclude="$pillow/Tests" --exclude="$pillow/docs"

# No CPU detection or arch-specific code exists for wasm32; gz file functions are unused by Pillow.
cmake_lib zlib-ng "$B/src/zlib-ng" -DZLIB_COMPAT=ON -DBUILD_SHARED_LIBS=OFF -DBUILD_TESTING=OFF \
  -DWITH_GZFILEOP=OFF -DWITH_RUNTIME_CPU_DETECTION=OFF
cmake_lib libjpeg-turbo "$B/src/libjpeg-turbo" -DENABLE_SHARED=OFF -DENABLE_STATIC=ON \
  -DWITH_SIMD=OFF -DWITH_TURBOJPEG=OFF -DWITH_TOOLS=OFF -DWITH_TESTS=OFF
# libwebp, libwebpmux, libwebpdemux and libsharpyuv (what Pillow's _webp links): no tools, no
# threads (one request per instance), no SIMD (its SIMD code is for x86 and Arm only).
cmake_lib libwebp "$B/src/libwebp" -DBUILD_SHARED_LIBS=OFF -DWEBP_ENABLE_SIMD=OFF \
  -DWEBP_USE_THREAD=OFF -DWEBP_BUILD_LIBWEBPMUX=ON -DWEBP_BUILD_ANIM_UTILS=OFF \
  -DWEBP_BUILD_CWEBP=OFF -DWEBP_BUILD_DWEBP=OFF -DWEBP_BUILD_GIF2WEBP=OFF \
  -DWEBP_BUILD_IMG2WEBP=OFF -DWEBP_BUILD_VWEBP=OFF -DWEBP_BUILD_WEBPINFO=OFF \
  -DWEBP_BUILD_WEBPMUX=OFF -DWEBP_BUILD_EXTRAS=OFF -DWEBP_BUILD_FUZZTEST=OFF

# Pillow: a generated ninja file gives parallel, incremental compiles with header dependencies.
# The lists of C files are read from Pillow's own setup.py, so they follow its version.
python3 "$here/gen_ninja.py" "$B/src/pillow" "$prefix" "$B/pillow"
echo "pillow: compiling Pillow's C sources"
ninja -C "$B/pillow" -j 2

# Install: Pillow's Python package plus the modules, replacing an older install whole so that
# no file of a previous build lingers. Modification times are kept (not the tarball's owners).
echo "pillow: installing into ${site#"$root"/}/PIL"
mkdir -p "$site"
rm -rf "$site/PIL.new"
cp -r --preserve=timestamps "$B/src/pillow/src/PIL" "$site/PIL.new"
cp --preserve=timestamps "$B/pillow"/*.cpython-314-wasm32-wasi.so "$site/PIL.new/"
rm -rf "$site/PIL"
mv "$site/PIL.new" "$site/PIL"
echo "pillow: done"
