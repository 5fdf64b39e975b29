#!/usr/bin/env bash
# Prepares the wasm32-wasi cross toolchain under build/wasi (idempotent):
#   - Debian 12's clang/lld 19 with compiler-rt and libc++ for wasm32, cmake, patch, xz-utils
#     and binaryen (tools/apt-install.sh cross, when missing);
#   - wasi-libc from Debian unstable       -> build/wasi/sysroot/{include,lib}/wasm32-wasip1
#   - CPython 3.14 headers from Debian unstable, with a pyconfig.h for wasm32
#                                           -> build/wasi/python/include/python3.14
set -euo pipefail
cd "$(dirname "$0")/.."
W=build/wasi

tools/apt-install.sh cross

python3 wasi/fetch.py "$W/downloads"

if [ ! -f "$W/sysroot/.done" ]; then
  echo "toolchain: unpacking wasi-libc"
  rm -rf "$W/sysroot" "$W/tmp-deb" && mkdir -p "$W/tmp-deb"
  dpkg -x "$W"/downloads/wasi-libc_*.deb "$W/tmp-deb"
  mv "$W/tmp-deb/usr" "$W/sysroot" && rm -rf "$W/tmp-deb"
  touch "$W/sysroot/.done"
fi

if [ ! -f "$W/python/.done" ]; then
  echo "toolchain: unpacking CPython 3.14 headers"
  rm -rf "$W/python" "$W/tmp-deb" && mkdir -p "$W/tmp-deb" "$W/python/include"
  dpkg -x "$W"/downloads/libpython3.14-dev_*.deb "$W/tmp-deb"
  mv "$W/tmp-deb/usr/include/python3.14" "$W/python/include/python3.14"
  python3 wasi/pyconfig.py "$W/tmp-deb/usr/include/x86_64-linux-gnu/python3.14/pyconfig.h" \
    "clang-19 --target=wasm32-wasip1 --sysroot=$W/sysroot" "$W/python/include/python3.14/pyconfig.h"
  rm -rf "$W/tmp-deb"
  touch "$W/python/.done"
fi
echo "toolchain: ready ($(clang-19 --version | head -1))"
