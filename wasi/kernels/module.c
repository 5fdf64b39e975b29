/* xnn_kernels: XNNPACK's wasm SIMD convolution microkernels as a CPython extension module, for
 * the engine inside the component (component/engine/ops/xnn.py). XNNPACK ships kernels and
 * operators; only the microkernel files are compiled in (build.sh), and this folder's files are
 * the rest (xnn_kernels.h lists them): weight packing, the zero rows and indirection buffers
 * that stand for padding, and the loops that call a microkernel per tile. No threads, no
 * allocation per call.
 *
 * Arrays come in through the buffer protocol: C-contiguous float32 (numpy arrays); packed
 * weights and geometries are bytes objects made here at plan time (immutable, and they never
 * move, which the indirection pointers rely on). Every call checks that the sizes agree, so a
 * mismatch is a ValueError, never a read out of bounds.
 *
 * Which microkernels (measured inside the component, plain wasmtime and with epoch
 * interruption on, GFLOP/s; build.sh has the numbers):
 *   GEMM and IGEMM  3x8 "splat": 4 k-steps per loop pass, 6 accumulators. Cranelift has 16
 *                   vector registers; 4x8 (15 live vectors) and 6x8 (20: spills) came out
 *                   5-10% slower, and the "loadsplat" kernels (one k-step per pass) lost
 *                   ~30% plain and ~40% under epoch checks, which spill their accumulators
 *                   at every loop header. 1x8 for a single-row tile (a classifier head).
 *   depthwise       the unipass 9p4c (3x3) and 25p4c (5x5) kernels: 4-channel tiles beat
 *                   the 8-channel and two-accumulator variants in both configurations.
 */
#include "xnn_kernels.h"

static PyMethodDef METHODS[] = {
  {"pack_gemm", pack_gemm, METH_VARARGS, "pack_gemm(w (K, N), bias (N,)) -> packed bytes"},
  {"pack_conv", pack_conv, METH_VARARGS,
   "pack_conv(w (Cout, C/G, kh, kw), scale (Cout,), bias (Cout,), groups) -> packed bytes"},
  {"gemm", gemm, METH_VARARGS, "gemm(x (..., K), packed, out (..., N), lo, hi[, residual]) -> out"},
  {"pack_dwconv", pack_dwconv, METH_VARARGS, "pack_dwconv(w (C, 1, kh, kw), scale (C,), bias (C,)) -> packed bytes"},
  {"dwconv_geometry", dwconv_geometry, METH_VARARGS,
   "dwconv_geometry(H, W, C, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr) -> geometry bytes"},
  {"dwconv", dwconv, METH_VARARGS, "dwconv(x (N, H, W, C), packed, geometry, out (N, Ho, Wo, C), lo, hi) -> out"},
  {"conv_geometry", conv_geometry, METH_VARARGS,
   "conv_geometry(H, W, C, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, groups) -> geometry bytes"},
  {"conv", conv, METH_VARARGS, "conv(x (N, H, W, C), packed, geometry, out (N, Ho, Wo, Cout), lo, hi) -> out"},
  {"nchw_to_nhwc", nchw_to_nhwc, METH_VARARGS, "nchw_to_nhwc(x (N, C, H, W), out (N, H, W, C)) -> out"},
  {"mean_hw", mean_hw, METH_VARARGS, "mean_hw(x (N, H, W, C), out (N, 1, 1, C)) -> out"},
  {"qs8_gemm", qs8_gemm, METH_VARARGS,
   "qs8_gemm(x (..., K) int8, packed, out (..., N) int8, out_zero, out_min, out_max) -> out (qs8.c)"},
  {"qs8_dwconv_geometry", qs8_dwconv_geometry, METH_VARARGS,
   "qs8_dwconv_geometry(H, W, C, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, x_zero) -> geometry bytes"},
  {"qs8_dwconv", qs8_dwconv, METH_VARARGS,
   "qs8_dwconv(x (N, H, W, C) int8, packed, geometry, out int8, out_zero, out_min, out_max) -> out (qs8.c)"},
  {NULL, NULL, 0, NULL},
};

static struct PyModuleDef MODULE = {
  PyModuleDef_HEAD_INIT, "xnn_kernels", "XNNPACK's wasm SIMD convolution microkernels (see wasi/kernels/module.c).", -1,
  METHODS};

PyMODINIT_FUNC PyInit_xnn_kernels(void) {
  PyObject* m = PyModule_Create(&MODULE);
  PyObject* taps = m ? PyTuple_New(N_DWCONV_TAPS) : NULL;
  for (size_t i = 0; taps && i < N_DWCONV_TAPS; i++) PyTuple_SET_ITEM(taps, i, PyLong_FromSize_t(DWCONV_TAPS[i]));
  if (m && PyModule_Add(m, "DWCONV_TAPS", taps) < 0) Py_CLEAR(m);
  return m;
}
