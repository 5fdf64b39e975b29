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
