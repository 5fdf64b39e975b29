#!/usr/bin/env bash
# Cross-compiles numpy from its sdist for wasm32-wasi (the CPython 3.14 that componentize-py
# embeds) into build/wasi/site-packages/numpy, modules named *.cpython-314-wasm32-wasi.so.
# Needs wasi/toolchain.sh to have run. Idempotent and incremental: the source tree and the meson
# build dir under build/wasi/numpy-build are reused, ninja recompiles only what changed.
#
#   source   numpy's sdist, extracted, with patches/*.patch applied (redone when they change)
#   setup    numpy's vendored meson with cross.ini (redone when the configuration changes)
#   compile  ninja
#   install  meson install of the runtime files (no tests, headers or static libraries)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
here=wasi/numpy
work=build/wasi/numpy-build
source wasi/lock.sh
version=$(locked_version numpy)
tarball=build/wasi/downloads/$(locked_file numpy)
src=$work/numpy-$version
build=$work/build
# Host tools: cython and ninja come from the project venv (the Makefile does the same).
export PATH="$root/.venv/bin:$PATH"

# run_logged LOG WHAT CMD...: runs CMD with its output in LOG, printing CMD's latest output line
# every 15 s; on failure prints the failing part of LOG: for ninja its FAILED: commands and the
# error lines (numpy's headers also print many warnings), else the tail.
run_logged() {
  local log=$1 what=$2
  shift 2
  echo "numpy: $what"
  if ! "$@" 2>&1 | show_progress "$log"; then
    echo "numpy: $what FAILED (full log: $log)" >&2
    if grep -q '^FAILED: ' "$log"; then
      grep -E -A3 '^FAILED: |error' "$log" | head -n 60 >&2
    else
      tail -n 40 "$log" >&2
    fi
    exit 1
  fi
}

show_progress() {
  local log=$1 line='' last='' shown=$SECONDS rc
  exec 3>"$log"
  while true; do
    if IFS= read -r -t 15 line; then
      printf '%s\n' "$line" >&3
      last=$line
    else
      rc=$?
      if ((rc <= 128)); then  # end of output (a read timeout returns > 128)
        [ -z "$line" ] || printf '%s\n' "$line" >&3
        break
      fi
      printf '%s' "$line" >&3  # a timeout keeps a partial line; the next read has its rest
    fi
    if ((SECONDS - shown >= 15)); then
      echo "  ${last:0:160}"
      shown=$SECONDS
    fi
  done
  exec 3>&-
}

# --- source: the sdist with our patches ----------------------------------------------------
# The stamp names the tarball and the patches' hash; when it differs the tree is extracted
# again. tar keeps the archive's mtimes, so the files that the old or new patches touch are
# touched afterwards: ninja then rebuilds exactly what depends on them.
patched_files() {  # the files a set of patches modifies, relative to the source root
  sed -n 's|^+++ [^/]*/\([^[:space:]]*\).*|\1|p' "$@"
}
shopt -s nullglob
patches=("$here"/patches/*.patch)
shopt -u nullglob
want_source="numpy-$version.tar.gz $(cat /dev/null "${patches[@]}" | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$src/.wasi-source" 2>/dev/null)" != "$want_source" ]; then
  echo "numpy: extracting $tarball and applying $here/patches"
  touched=$(cat "$src/.wasi-patched-files" 2>/dev/null || true)
  rm -rf "$src" "$work/extract.tmp"
  mkdir -p "$work/extract.tmp"
  tar -xzf "$tarball" -C "$work/extract.tmp"
  for patch in "${patches[@]}"; do
    patch -d "$work/extract.tmp/numpy-$version" -p1 --batch --quiet <"$patch"
  done
  mv "$work/extract.tmp/numpy-$version" "$src"
  rmdir "$work/extract.tmp"
  patched_files /dev/null "${patches[@]}" >"$src/.wasi-patched-files"
  touched=$(printf '%s\n%s\n' "$touched" "$(cat "$src/.wasi-patched-files")" | sort -u)
  for f in $touched; do
    [ ! -e "$src/$f" ] || touch "$src/$f"
  done
  echo "$want_source" >"$src/.wasi-source"
fi

# --- setup: meson configuration --------------------------------------------------------------
meson_options=(
  --cross-file "$work/paths.ini" --cross-file "$here/cross.ini"
  # modules go to <prefix>/site-packages/numpy (see target-python)
  --prefix "$root/build/wasi"
  # -O3, no asserts, no debug info (numpy's default, debugoptimized, adds -g: far bigger modules)
  -Dbuildtype=release -Db_ndebug=if-release
  # modules leave libc/libpython symbols undefined on purpose: they resolve at component link
  -Db_lundef=false
  # meson would byte-compile with the host's Python (3.11): .pyc files the target cannot use
  -Dpython.bytecompile=-1
  # no BLAS/LAPACK exists for this target: numpy's own loops and its bundled lapack_lite
  -Dallow-noblas=true -Dblas=none -Dlapack=none
  # numpy's SIMD dispatch and the SIMD libraries know x86/ARM/PowerPC/s390x, not wasm32
  -Ddisable-optimization=true -Ddisable-highway=true -Ddisable-intel-sort=true -Ddisable-svml=true
  # a componentize-py component has no threads to release the GIL for
  -Ddisable-threading=true
)
# Everything that shapes the configuration; when it changes, the build dir is made anew (a
# change of cxa-stubs.c too: meson does not see link arguments as dependencies).
want_config=$(cat "$here/cross.ini" "$here/target-python" "$here/cxa-stubs.c" \
  <(printf '%s\n' "$root" "$src" "${meson_options[@]}") | sha256sum | cut -d' ' -f1)
if [ "$(cat "$build/.wasi-config" 2>/dev/null)" != "$want_config" ]; then
  rm -rf "$build" build/wasi/site-packages/numpy
  mkdir -p "$work"
  printf "[constants]\nroot = '%s'\nwork = '%s'\n" "$root" "$root/$work" >"$work/paths.ini"

  # A clang resource dir where clang-19 finds compiler-rt for wasm32-wasip1 (see cross.ini).
  res=$work/clang-resource
  rm -rf "$res" && mkdir -p "$res"
  ln -s "$(clang-19 -print-resource-dir)/include" "$res/include"
  rt_wanted=$(clang-19 --target=wasm32-wasip1 -resource-dir="$res" -print-libgcc-file-name)
  rt_debian=$(clang-19 --target=wasm32-wasi -print-libgcc-file-name)
  mkdir -p "$(dirname "$rt_wanted")" && ln -s "$rt_debian" "$rt_wanted"

  wasi/bin/wasm-cc -O2 -c "$here/cxa-stubs.c" -o "$work/cxa-stubs.o"
  rm -f "$work/libcxa-stubs.a" && llvm-ar-19 rcs "$work/libcxa-stubs.a" "$work/cxa-stubs.o"

  run_logged "$work/setup.log" "meson setup (about 30 s)" \
    python3 "$src/vendored-meson/meson/meson.py" setup "$build" "$src" "${meson_options[@]}"
  echo "$want_config" >"$build/.wasi-config"
fi

# --- compile and install -------------------------------------------------------------------
NINJA_STATUS='[%f/%t %es] ' run_logged "$work/compile.log" "compile (ninja; about 2-3 min from scratch)" \
  ninja -C "$build"
run_logged "$work/install.log" "install -> build/wasi/site-packages/numpy" \
  python3 "$src/vendored-meson/meson/meson.py" install -C "$build" --no-rebuild --only-changed \
  --tags runtime,python-runtime

# componentize-py refuses a module that imports the C++ exception entry points: a module that
# names them must define them (llvm-nm lists no imports of linked wasm, objdump finds definitions).
mapfile -t modules < <(find build/wasi/site-packages/numpy -name '*.cpython-314-wasm32-wasi.so')
for m in "${modules[@]}"; do
  grep -aq -e __cxa_throw -e __cxa_allocate_exception "$m" || continue
  if [ "$(llvm-objdump-19 -d --disassemble-symbols=__cxa_throw,__cxa_allocate_exception "$m" 2>/dev/null |
    grep -c '>:$')" != 2 ]; then
    echo "numpy: $m imports __cxa_throw/__cxa_allocate_exception (libcxa-stubs.a not linked?)" >&2
    exit 1
  fi
done
echo "numpy: ready, ${#modules[@]} modules, $(du -sh build/wasi/site-packages/numpy | cut -f1) in build/wasi/site-packages/numpy"
