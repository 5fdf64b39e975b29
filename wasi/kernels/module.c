/* xnn_kernels: XNNPACK's wasm SIMD microkernels as a CPython extension module, for the engine
 * inside the component (component/engine/backends/xnnpack.py). XNNPACK ships kernels and
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
 *                   the 8-channel and two-accumulator variants in both configurations. More
 *                   than 25 taps (ConvNeXt's 7x7): passes of the 25-tap kernel, each later
 *                   pass reading the output so far as its 25th tap (xnn_kernels.h); 7x7 took
 *                   2.2x the 5x5's time for 1.96x its taps.
 *   activations     vsigmoid rr2-p5-div, vtanh and vgelu rationals, vhswish (wasmsimd, u16),
 *                   in place on a conv's fresh rows (its epilogue) or on a whole array.
 *   softmax         rmax + raddstoreexpminusmax per row, then a scaling loop.
 * The rest are plain C loops that clang vectorises (pooling, per-channel affine and scale,
 * layer norm, transposes) and the GEMM above for products of two run-time operands (bmm.c).
 * docs/kernels.md has the figures against numpy's path.
 */
#include "xnn_kernels.h"

_Static_assert(N_ACTIVATIONS == 7, "ACTIVATIONS below names every activation code");

static PyObject* dwconv_supports(PyObject* self, PyObject* taps) {
  size_t n = PyLong_AsSize_t(taps);
  if (n == (size_t) -1 && PyErr_Occurred()) return NULL;
  return PyBool_FromLong(dw_supported(n));
}

static PyMethodDef METHODS[] = {
  {"pack_gemm", pack_gemm, METH_VARARGS, "pack_gemm(w (K, N), bias (N,)) -> packed bytes"},
  {"pack_conv", pack_conv, METH_VARARGS,
   "pack_conv(w (Cout, C/G, kh, kw), scale (Cout,), bias (Cout,), groups) -> packed bytes"},
  {"gemm", gemm, METH_VARARGS, "gemm(x (..., K), packed, out (..., N), lo, hi[, residual or None[, act]]) -> out"},
  {"pack_dwconv", pack_dwconv, METH_VARARGS, "pack_dwconv(w (C, 1, kh, kw), scale (C,), bias (C,)) -> packed bytes"},
  {"dwconv_geometry", dwconv_geometry, METH_VARARGS,
   "dwconv_geometry(H, W, C, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr) -> geometry bytes"},
  {"dwconv", dwconv, METH_VARARGS, "dwconv(x (N, H, W, C), packed, geometry, out (N, Ho, Wo, C), lo, hi[, act]) -> out"},
  {"dwconv_supports", dwconv_supports, METH_O, "dwconv_supports(taps) -> whether pack_dwconv takes that many taps"},
  {"conv_geometry", conv_geometry, METH_VARARGS,
   "conv_geometry(H, W, C, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, groups) -> geometry bytes"},
  {"conv", conv, METH_VARARGS, "conv(x (N, H, W, C), packed, geometry, out (N, Ho, Wo, Cout), lo, hi[, act]) -> out"},
  {"nchw_to_nhwc", nchw_to_nhwc, METH_VARARGS, "nchw_to_nhwc(x (N, C, H, W), out (N, H, W, C)) -> out"},
  {"mean_hw", mean_hw, METH_VARARGS, "mean_hw(x (N, H, W, C), out (N, 1, 1, C)) -> out"},
  {"unary", unary, METH_VARARGS, "unary(x, out, act[, alpha, beta]) -> out: an activation of ACTIVATIONS"},
  {"channel_affine", channel_affine, METH_VARARGS,
   "channel_affine(x (..., C), scale (C,), shift (C,), out, lo, hi) -> out = clip(x * scale + shift, lo, hi)"},
  {"channel_scale", channel_scale, METH_VARARGS, "channel_scale(x (N, ..., C), s (N, C), out) -> out = x * s"},
  {"pool", pool, METH_VARARGS,
   "pool(x (N, H, W, C), dwconv geometry, out (N, Ho, Wo, C), divisors (Ho, Wo) or None) -> out: max or average"},
  {"softmax", softmax, METH_VARARGS, "softmax(x (..., D), out (..., D)) -> out, along the last axis"},
  {"transpose", transpose, METH_VARARGS, "transpose(x, out, perm tuple) -> out = x.transpose(perm), up to 6 axes"},
  {"bmm", bmm, METH_VARARGS, "bmm(a (B, M, K), b (B, K, N), out (B, M, N)) -> out"},
  {"layer_norm", layer_norm, METH_VARARGS, "layer_norm(x (..., D), out, epsilon[, scale (D,), bias (D,)]) -> out"},
  {"qs8_gemm", qs8_gemm, METH_VARARGS,
   "qs8_gemm(x (..., K) int8, packed, out (..., N) int8, out_zero, out_min, out_max) -> out (qs8.c)"},
  {"qs8_dwconv_geometry", qs8_dwconv_geometry, METH_VARARGS,
   "qs8_dwconv_geometry(H, W, C, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, x_zero) -> geometry bytes"},
  {"qs8_gemm_f32", qs8_gemm_f32, METH_VARARGS,
   "qs8_gemm_f32(x (..., K) int8, packed, out (..., N) float32) -> out (qs8.c)"},
  {"qs8_im2col", qs8_im2col, METH_VARARGS,
   "qs8_im2col(x (N, H, W, C) int8, qs8 dwconv geometry, out (N, Ho, Wo, kw*kh*C) int8) -> out (qs8.c)"},
  {"qs8_dwconv", qs8_dwconv, METH_VARARGS,
   "qs8_dwconv(x (N, H, W, C) int8, packed, geometry, out int8, out_zero, out_min, out_max) -> out (qs8.c)"},
  {NULL, NULL, 0, NULL},
};

static struct PyModuleDef MODULE = {
  PyModuleDef_HEAD_INIT, "xnn_kernels", "XNNPACK's wasm SIMD microkernels (see wasi/kernels/module.c).", -1,
  METHODS};

/* ACTIVATIONS[code]: the names of the activation codes unary and the conv epilogues take. */
PyMODINIT_FUNC PyInit_xnn_kernels(void) {
  PyObject* m = PyModule_Create(&MODULE);
  PyObject* names = m ? Py_BuildValue("(sssssss)", "none", "sigmoid", "silu", "tanh", "gelu", "hardswish", "hardsigmoid")
                      : NULL;
  if (m && PyModule_Add(m, "ACTIVATIONS", names) < 0) Py_CLEAR(m);
  return m;
}
