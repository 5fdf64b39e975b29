#!/usr/bin/env bash
# Every Debian package the project needs, in one place: installs those of the named groups that
# are missing (one apt-get update, only when something is). Debian 12 (bookworm).
#
#   tools/apt-install.sh make       make itself (CI on a bare machine, the Dockerfile's builder)
#   tools/apt-install.sh cross      the wasm32-wasi cross toolchain (wasi/toolchain.sh): clang/lld 19
#                                   with compiler-rt and libc++ for wasm32, cmake and patch; xz-utils
#                                   (XNNPACK's .tar.xz); binaryen (wasm-opt, Pillow's Asyncify pass)
#   tools/apt-install.sh browser    Debian's Chromium, for the page tests (no Playwright download)
set -euo pipefail

declare -A PACKAGES=(
  [make]="make"
  [cross]="clang-19 lld-19 libclang-rt-19-dev-wasm32 libc++-19-dev-wasm32 libc++abi-19-dev-wasm32 cmake patch xz-utils binaryen"
  [browser]="chromium"
)

need=()
for group in "$@"; do
  [ -n "${PACKAGES[$group]+set}" ] || { echo "apt-install: no group $group (${!PACKAGES[*]})" >&2; exit 2; }
  for pkg in ${PACKAGES[$group]}; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || need+=("$pkg")
  done
done
if [ ${#need[@]} -gt 0 ]; then
  echo "apt-get install ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
