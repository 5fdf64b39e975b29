#!/usr/bin/env bash
# Builds the engine's kernel module for wasm32-wasi into build/wasi/site-packages:
#   xnn_kernels.cpython-314-wasm32-wasi.so = this folder's C files (packing, indirection
#   buffers, tile loops; module.c has the overview)
#   + XNNPACK's wasm SIMD microkernels, compiled from Debian's xnnpack source package
#   (the version wasi/sources.lock pins, hash-pinned, checked against Debian's signed
#   Sources index by wasi/fetch.py). Only the microkernel files and headers are unpacked; XNNPACK's
#   operators, cpuinfo and pthreadpool are not needed (include/pthreadpool.h stands in for the
#   one type its header names). Needs wasi/toolchain.sh to have run. Incremental: ninja
#   recompiles what changed.
#
# Why XNNPACK, and which kernels (measured inside the component, componentize-py 0.25.1 under
# wasmtime-py 50, medians, 2-core Zen 5 shared with other jobs: load average 4-6, so absolute
# numbers are low and noisy; the comparisons were interleaved):
#   - no better BLAS reaches wasm here: OpenBLAS 0.3.34's WASM128_GENERIC sgemm made 26-30
#     GFLOP/s standalone where XNNPACK's GEMM made 42-45; BLIS and Eigen have no wasm kernels;
#   - GEMM (the 1x1 convs), GFLOP/s on MobileNetV2 shapes (M x K x N), plain config / epoch
#     interruption on (the harness's CPU cap):
#         784x144x32     numpy a@w 18 / 11   3x8 splat 32 / 32   4x8 splat 32 / 31
#                        6x8 splat 32 / 31   4x8 loadsplat 22 / 18   6x8 loadsplat 23 / 19
#         49x320x1280    numpy 21 / 5        3x8 splat 29 / 28   4x8 splat 27 / 26
#                        6x8 splat 24 / 25   4x8 loadsplat 13 / 16
#         12544x16x96    numpy 5 / 10        3x8 splat 26 / 24   4x8 splat 22 / 23
#                        6x8 splat 16 / 16   4x8 loadsplat 7 / 15
#     and with caches flushed before each call the 3x8 splat kernel stayed 5-15% ahead. It
#     keeps 12 vectors live (Cranelift has 16); the splat kernels take 4 k-steps per loop pass,
#     so the epoch check at the loop header barely costs; the loadsplat ones take one, and spill.
#   - depthwise 3x3 (9p) and 5x5 (25p) unipass kernels, GFLOP/s, plain / epoch on:
#         112x112x32 s1  numpy 0.3 / 0.2   9p4c 14.8 / 11.1   9p4c-acc2 13.2 / 9.8   9p8c 11.9 / 10.7
#         28x28x192 s1   numpy 0.4 / 0.4   9p4c 16.3 / 13.7   9p4c-acc2 15.0 / 11.5  9p8c 14.7 / 13.6
#         28x28x240 5x5  numpy 0.5 / 0.9   25p4c 12.0 / 12.6  25p4c-acc2 11.8 / 12.3 25p8c 11.9 / 11.8
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
here=$root/wasi/kernels
W=$root/build/wasi
B=$W/kernels-build
site=$W/site-packages
export PATH="$root/.venv/bin:$PATH"  # ninja
source "$root/wasi/lock.sh"
tarball=$W/downloads/$(locked_file xnnpack)
kernels=(
  src/f32-gemm/gen/f32-gemm-3x8-minmax-wasmsimd-x86-splat.c
  src/f32-gemm/gen/f32-gemm-1x8-minmax-wasmsimd-x86-splat.c
  src/f32-igemm/gen/f32-igemm-3x8-minmax-wasmsimd-x86-splat.c
  src/f32-dwconv/gen/f32-dwconv-9p4c-minmax-wasmsimd-x86.c
  src/f32-dwconv/gen/f32-dwconv-25p4c-minmax-wasmsimd-x86.c
  # activations (activation.c): plain wasmsimd (relaxed SIMD: see the toolchain facts), 16 a
  # loop pass; inside, 112x112x96: SiLU 1.8 ms where numpy took 20-30; 197x3072 GELU 1.1-1.4
  # ms where numpy's erf took 58-63; the HardSwish epilogue of a 1x1 conv added 0.16 ms
  # (1.48 -> 1.65 ms), SiLU's about what a separate pass costs (sigmoid's division dominates)
  src/f32-vsigmoid/gen/f32-vsigmoid-wasmsimd-rr2-p5-div-u16.c
  src/f32-vtanh/gen/f32-vtanh-wasmsimd-rational-9-8-div.c
  src/f32-vgelu/gen/f32-vgelu-wasmsimd-rational-12-10-div.c
  src/f32-vhswish/gen/f32-vhswish-wasmsimd-u16.c
  # softmax (rows.c): the row's max, then exp(x - max) stored and summed in one pass;
  # 12x197x197 (ViT-B attention) 0.9 ms where numpy took 10-17
  src/f32-rminmax/gen/f32-rmax-wasmsimd-pminmax-u16-acc4.c
  src/f32-raddstoreexpminusmax/gen/f32-raddstoreexpminusmax-wasmsimd-rr2-p5-u16-acc2.c
  # int8 (qs8.c): the quantized GEMM (int8 out), the same with a float output, the depthwise convs
  src/qs8-qc8w-gemm/gen/qs8-qc8w-gemm-3x4c8-minmax-fp32-wasmsimd-dot16x2-ld128.c
  src/qd8-f32-qc8w-gemm/gen/qd8-f32-qc8w-gemm-1x4c8-minmax-wasmsimd-dot16x2-ld128.c
  src/qs8-qc8w-dwconv/gen/qs8-qc8w-dwconv-9p8c-minmax-fp32-wasmsimd-mul16-add16.c
  src/qs8-qc8w-dwconv/gen/qs8-qc8w-dwconv-25p8c-minmax-fp32-wasmsimd-mul16-add16.c
)

# The tarball is .tar.xz: tar needs xz (tools/apt-install.sh cross).
tools/apt-install.sh cross
python3 wasi/fetch.py "$W/downloads" xnnpack
src=$B/xnnpack
if [ ! "$src/.unpacked" -nt "$tarball" ] || [ ! "$src/.unpacked" -nt "$0" ]; then
  echo "kernels: unpacking XNNPACK's headers and ${#kernels[@]} microkernels"
  rm -rf "$src" && mkdir -p "$src"
  tar -xJmf "$tarball" -C "$src" --wildcards 'include/*.h' 'src/*.h' "${kernels[@]}"
  touch "$src/.unpacked"
fi

mkdir -p "$B"
cc=$root/wasi/bin/wasm-cc
{
  echo "cflags = -O2 -msimd128 -fvisibility=hidden -I$here/include -I$src/include -I$src/src"
  echo "rule cc"
  echo "  command = $cc -MD -MF \$out.d \$cflags -c \$in -o \$out"
  echo "  depfile = \$out.d"
  echo "  deps = gcc"
  echo "  description = CC \$in"
  echo "rule link"
  echo "  command = $cc -shared -o \$out \$in"
  echo "  description = LINK \$out"
  objects=()
  for c in "${kernels[@]}"; do
    o=obj/$(basename "${c%.c}").o
    echo "build $o: cc $src/$c | $cc"
    objects+=("$o")
  done
  for c in "$here"/*.c; do
    o=obj/module/$(basename "${c%.c}").o
    echo "build $o: cc $c | $cc"
    echo "  cflags = \$cflags -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Werror"
    objects+=("$o")
  done
  echo "build xnn_kernels.cpython-314-wasm32-wasi.so: link ${objects[*]} | $cc"
} >"$B/build.ninja"
echo "kernels: compiling"
ninja -C "$B" -j 2 | sed 's/^/  /'

echo "kernels: installing into ${site#"$root"/}"
mkdir -p "$site"
cp --preserve=timestamps "$B/xnn_kernels.cpython-314-wasm32-wasi.so" "$site/"
echo "kernels: done"
