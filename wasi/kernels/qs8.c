/* Integer GEMM: XNNPACK's qs8-qc8w (int8 activations with a zero point, int8 weights per output
 * channel, int32 accumulation, fp32 requantization: acc * scale, rounded half to even, plus
 * the output zero point, saturated) 3x4c8 wasm SIMD microkernel, for the quantized 1x1 convs
 * and products by constant weights (component/engine/backends/xnnpack_int8.py).
 *
 * The weights are packed by the engine at plan time (numpy; the layout is the kernel's): per
 * block of 4 output channels, 4 int32 biases (the file's bias minus x_zero * the column's
 * weight sum, since the kernel multiplies the raw int8 activations), the weights in k-blocks
 * of 8 per channel (K padded to a multiple of 8 with zeros), 4 float32 requantization scales. */
#include "xnn_kernels.h"

#include <math.h>

#define QS8_MR 3
#define QS8_NR 4
#define QS8_KR 8

/* A C-contiguous int8 buffer ("b"), writable if asked. */
static int get_i8(PyObject* obj, arg* a, int writable, const char* what) {
  if (PyObject_GetBuffer(obj, &a->view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0)) < 0)
    return -1;
  a->held = 1;
  const char* f = a->view.format;
  if (f && (f[0] == '@' || f[0] == '=' || f[0] == '<' || f[0] == '|')) f++;
  if (a->view.itemsize != 1 || f == NULL || f[0] != 'b' || f[1] != 0) {
    PyErr_Format(PyExc_TypeError, "%s must be int8, not format '%s' of %zd-byte items", what,
                 a->view.format ? a->view.format : "?", a->view.itemsize);
    return -1;
  }
  return 0;
}

size_t qs8_packed_bytes(size_t k, size_t n) {
  size_t kp = (k + QS8_KR - 1) / QS8_KR * QS8_KR;
  return (n + QS8_NR - 1) / QS8_NR * (QS8_NR * sizeof(int32_t) + kp * QS8_NR + QS8_NR * sizeof(float));
}

/* qs8_gemm(x (..., K) int8, packed, out (..., N) int8, out_zero, out_min, out_max) -> out */
PyObject* qs8_gemm(PyObject* self, PyObject* args) {
  PyObject *x_obj, *packed_obj, *out_obj;
  int zero, lo, hi;
  if (!PyArg_ParseTuple(args, "OOOiii", &x_obj, &packed_obj, &out_obj, &zero, &lo, &hi)) return NULL;
  arg a[3] = {{0}};
  PyObject* result = NULL;
  if (get_i8(x_obj, &a[0], 0, "x") < 0 || get_bytes(packed_obj, &a[1], "packed") < 0 ||
      get_i8(out_obj, &a[2], 1, "out") < 0)
    goto done;
  if (zero < -128 || zero > 127 || lo < -128 || hi > 127 || lo > hi) {
    PyErr_SetString(PyExc_ValueError, "qs8_gemm: zero point or bounds out of int8's range");
    goto done;
  }
  size_t k = last_dim(&a[0].view), n = last_dim(&a[2].view);
  size_t m = k ? a[0].view.len / k : 0;
  if (k == 0 || n == 0 || m * n != (size_t) a[2].view.len || qs8_packed_bytes(k, n) != (size_t) a[1].view.len) {
    mismatch("qs8_gemm");
    goto done;
  }
  union xnn_qs8_qc8w_conv_minmax_params params = {.fp32_scalar = {
      .output_zero_point = (int16_t) zero, .output_min = (int16_t) lo, .output_max = (int16_t) hi}};
  const int8_t* x = a[0].view.buf;
  int8_t* y = a[2].view.buf;
  for (size_t i = 0; i < m; i += QS8_MR) {
    size_t mr = m - i < QS8_MR ? m - i : QS8_MR;
    xnn_qs8_qc8w_gemm_minmax_fp32_ukernel_3x4c8__wasmsimd_dot16x2_ld128(
        mr, n, k, x + i * k, k, a[1].view.buf, y + i * n, n, QS8_NR, &params);
  }
  result = Py_NewRef(out_obj);
done:
  release(a, 3);
  return result;
}

/* qs8_gemm_f32(x (..., K) int8, packed, out (..., N) float32) -> out: XNNPACK's qd8-f32-qc8w 1x4c8
 * kernel, for products whose output stays float (QGemm without an output scale: a classifier's
 * float logits). Packed as for qs8_gemm plus 4 float32 zeros a block (the kernel's float bias),
 * with the row's zero point given as 1: the kernel's starting sum, column sum x zero point, is
 * then the int32 bias the engine packs (the file's bias - x_zero * the column's weight sum), the
 * sum stays exact in int32, and the result is float32(sum) * the column's scale, as numpy's
 * reference computes it. */
PyObject* qs8_gemm_f32(PyObject* self, PyObject* args) {
  PyObject *x_obj, *packed_obj, *out_obj;
  if (!PyArg_ParseTuple(args, "OOO", &x_obj, &packed_obj, &out_obj)) return NULL;
  arg a[3] = {{0}};
  PyObject* result = NULL;
  if (get_i8(x_obj, &a[0], 0, "x") < 0 || get_bytes(packed_obj, &a[1], "packed") < 0 ||
      get_f32(out_obj, &a[2], 1, "out") < 0)
    goto done;
  size_t k = last_dim(&a[0].view), n = last_dim(&a[2].view);
  size_t m = k ? a[0].view.len / k : 0;
  if (k == 0 || n == 0 || m * n * sizeof(float) != (size_t) a[2].view.len ||
      qs8_packed_bytes(k, n) + (n + QS8_NR - 1) / QS8_NR * QS8_NR * sizeof(float) != (size_t) a[1].view.len) {
    mismatch("qs8_gemm_f32");
    goto done;
  }
  union xnn_f32_minmax_params params = {.scalar = {-INFINITY, INFINITY}};
  const struct xnn_qd8_quantization_params row = {.zero_point = 1, .inv_scale = 1.0f};
  const int8_t* x = a[0].view.buf;
  float* y = a[2].view.buf;
  for (size_t i = 0; i < m; i++)
    xnn_qd8_f32_qc8w_gemm_minmax_ukernel_1x4c8__wasmsimd_dot16x2_ld128(
        1, n, k, x + i * k, k, a[1].view.buf, y + i * n, n * sizeof(float), QS8_NR * sizeof(float), &params, &row);
  result = Py_NewRef(out_obj);
done:
  release(a, 3);
  return result;
}

typedef void (*qs8_dwconv_fn)(size_t, size_t, const int8_t**, const void*, int8_t*, intptr_t, size_t, size_t,
                              const int8_t*, const union xnn_qs8_qc8w_conv_minmax_params*);

/* qs8_dwconv(x (N, H, W, C) int8, packed, geometry, out (N, Ho, Wo, C) int8, out_zero, out_min, out_max)
 * -> out. XNNPACK's qs8-qc8w unipass 9p8c (3x3) and 25p8c (5x5) kernels, C a multiple of 8 (their
 * remainder path reads 8 channels). Packed per 8 channels: 8 int32 biases (minus x_zero * the
 * channel's weight sum), taps x 8 int8 weights, 8 float32 scales. */
PyObject* qs8_dwconv(PyObject* self, PyObject* args) {
  PyObject *xo, *wo, *go, *oo, *result = NULL;
  int zero, lo, hi;
  arg a[4] = {{0}};
  const geometry* g;
  if (!PyArg_ParseTuple(args, "OOOOiii", &xo, &wo, &go, &oo, &zero, &lo, &hi) || get_i8(xo, &a[0], 0, "x") < 0
      || get_bytes(wo, &a[1], "packed") < 0 || !(g = get_geometry(go, &a[2], GEO_QS8_DWCONV))
      || get_i8(oo, &a[3], 1, "out") < 0)
    goto done;
  const Py_buffer *x = &a[0].view, *w = &a[1].view, *o = &a[3].view;
  size_t c = g->c, taps = g->taps, image = (size_t) g->h * g->w * c, n = x->len / image;
  qs8_dwconv_fn fn =
      taps == 9 ? xnn_qs8_qc8w_dwconv_minmax_fp32_ukernel_9p8c__wasmsimd_mul16_add16
      : taps == 25 ? xnn_qs8_qc8w_dwconv_minmax_fp32_ukernel_25p8c__wasmsimd_mul16_add16 : NULL;
  if (!fn || c % 8 || (size_t) x->len != n * image || (size_t) o->len != n * g->ho * g->wo * c
      || (size_t) w->len != c / 8 * (8 * sizeof(int32_t) + taps * 8 + 8 * sizeof(float))
      || zero < -128 || zero > 127 || lo < -128 || hi > 127 || lo > hi) {
    mismatch("qs8_dwconv(x, packed, geometry, out, zero, lo, hi)");
    goto done;
  }
  union xnn_qs8_qc8w_conv_minmax_params params = {.fp32_scalar = {
      .output_zero_point = (int16_t) zero, .output_min = (int16_t) lo, .output_max = (int16_t) hi}};
  Py_BEGIN_ALLOW_THREADS
  for (size_t i = 0; i < n; i++) {
    size_t offset = (uintptr_t) ((const int8_t*) x->buf + i * image) - base(g);
    for (size_t oy = 0; oy < g->ho; oy++)
      fn(c, g->wo, (const int8_t**) pointers(g) + oy * g->row_step, w->buf,
         (int8_t*) o->buf + (i * g->ho + oy) * g->wo * c, g->pixel_step * sizeof(void*), 0, offset,
         (const int8_t*) g->zero, &params);
  }
  Py_END_ALLOW_THREADS
  result = Py_NewRef(oo);
done:
  release(a, 4);
  return result;
}

/* qs8_im2col(x (N, H, W, C) int8, geometry, out (N, Ho, Wo, kw*kh*C) int8) -> out: each output
 * pixel's window, tap by tap in the geometry's order (column-major: tap kx*kh + ky), C values a
 * tap, the padding read from the zero row (the input's zero point). The windows of a conv that
 * the GEMM then multiplies (the stem: C = 3 is too few channels for the IGEMM's k-blocks of 8);
 * the geometry is qs8_dwconv_geometry's, made once at plan time. */
PyObject* qs8_im2col(PyObject* self, PyObject* args) {
  PyObject *xo, *go, *oo, *result = NULL;
  arg a[3] = {{0}};
  const geometry* g;
  if (!PyArg_ParseTuple(args, "OOO", &xo, &go, &oo) || get_i8(xo, &a[0], 0, "x") < 0
      || !(g = get_geometry(go, &a[1], GEO_QS8_DWCONV)) || get_i8(oo, &a[2], 1, "out") < 0)
    goto done;
  const Py_buffer *x = &a[0].view, *o = &a[2].view;
  size_t c = g->c, taps = g->taps, image = (size_t) g->h * g->w * c, n = x->len / image;
  size_t window = taps * c, pixels = (size_t) g->ho * g->wo;
  if ((size_t) x->len != n * image || (size_t) o->len != n * pixels * window) {
    mismatch("qs8_im2col(x, geometry, out)");
    goto done;
  }
  const int8_t* const* p = (const int8_t* const*) pointers(g);
  const int8_t* zero = (const int8_t*) g->zero;
  int8_t* out = o->buf;
  Py_BEGIN_ALLOW_THREADS
  for (size_t i = 0; i < n; i++) {
    size_t offset = (uintptr_t) ((const int8_t*) x->buf + i * image) - base(g);
    for (size_t oy = 0; oy < g->ho; oy++)
      for (size_t ox = 0; ox < g->wo; ox++) {
        const int8_t* const* tap = p + oy * g->row_step + ox * g->pixel_step;
        for (size_t t = 0; t < taps; t++, out += c) memcpy(out, tap[t] == zero ? zero : tap[t] + offset, c);
      }
  }
  Py_END_ALLOW_THREADS
  result = Py_NewRef(oo);
done:
  release(a, 3);
  return result;
}
