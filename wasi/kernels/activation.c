/* Element-wise activations: XNNPACK's vunary kernels where it has one (sigmoid, tanh, GELU,
 * HardSwish), applied in place by the conv epilogues (run.c) on the rows a kernel has just
 * written, while they are in L1, and by `unary` on a whole array. SiLU (x * sigmoid(x)) goes
 * through a 256-float stack buffer; HardSigmoid is a loop that clang vectorises. */
#include "xnn_kernels.h"

#include <wasm_simd128.h>

#include "xnnpack/vunary.h"

typedef void (*vunary_fn)(size_t, const float*, float*, const struct xnn_f32_default_params*);

/* Index = the code Python passes (ACTIVATIONS in module.c); ACT_NONE is 0. */
static vunary_fn kernel(int act) {
  switch (act) {
    case ACT_SIGMOID: case ACT_SILU: return xnn_f32_vsigmoid_ukernel__wasmsimd_rr2_p5_div_u16;
    case ACT_TANH: return xnn_f32_vtanh_ukernel__wasmsimd_rational_9_8_div_u16;
    case ACT_GELU: return xnn_f32_vgelu_ukernel__wasmsimd_rational_12_10_div_u16;
    case ACT_HARDSWISH: return xnn_f32_vhswish_ukernel__wasmsimd_u16;
    default: return NULL;
  }
}

#define CHUNK 256

/* y = act(x) for n floats; x may be y. alpha, beta: HardSigmoid's. */
void activate(int act, const float* x, float* y, size_t n, float alpha, float beta) {
  static const struct xnn_f32_default_params none;
  if (act == ACT_NONE || n == 0) {
    if (x != y) memmove(y, x, n * 4);
  } else if (act == ACT_HARDSIGMOID) {
    for (size_t i = 0; i < n; i++) {
      float v = x[i] * alpha + beta;
      y[i] = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
    }
  } else if (act == ACT_SILU) {
    float s[CHUNK];
    for (size_t i = 0; i < n; i += CHUNK) {
      size_t m = n - i < CHUNK ? n - i : CHUNK;
      xnn_f32_vsigmoid_ukernel__wasmsimd_rr2_p5_div_u16(m * 4, x + i, s, &none);
      size_t j = 0;
      for (; j + 4 <= m; j += 4)
        wasm_v128_store(y + i + j, wasm_f32x4_mul(wasm_v128_load(x + i + j), wasm_v128_load(s + j)));
      for (; j < m; j++) y[i + j] = x[i + j] * s[j];
    }
  } else {
    kernel(act)(n * 4, x, y, &none);
  }
}

/* unary(x, out, act[, alpha, beta]) -> out: out = act(x), any shapes of the same size. */
PyObject* unary(PyObject* self, PyObject* args) {
  PyObject *xo, *oo, *result = NULL;
  int act;
  float alpha = 0.0f, beta = 0.0f;
  arg a[2] = {{0}};
  if (!PyArg_ParseTuple(args, "OOi|ff", &xo, &oo, &act, &alpha, &beta) || get_f32(xo, &a[0], 0, "x") < 0
      || get_f32(oo, &a[1], 1, "out") < 0)
    goto done;
  if (a[0].view.len != a[1].view.len || act <= ACT_NONE || act >= N_ACTIVATIONS) {
    mismatch("unary(x, out of the same size, activation code)");
    goto done;
  }
  const float* x = a[0].view.buf;
  float* y = a[1].view.buf;
  size_t n = a[0].view.len / 4;
  Py_BEGIN_ALLOW_THREADS
  activate(act, x, y, n, alpha, beta);
  Py_END_ALLOW_THREADS
  result = Py_NewRef(oo);
done:
  release(a, 2);
  return result;
}

/* channel_affine(x (..., C), scale (C,), shift (C,), out (..., C), lo, hi) -> out:
 * clip(x * scale + shift, lo, hi) per channel (a BatchNormalization no conv could take, and the
 * Relu after it: DenseNet's pre-activations), one pass that clang vectorises. */
PyObject* channel_affine(PyObject* self, PyObject* args) {
  PyObject *xo, *so, *bo, *oo, *result = NULL;
  float lo, hi;
  arg a[4] = {{0}};
  if (!PyArg_ParseTuple(args, "OOOOff", &xo, &so, &bo, &oo, &lo, &hi) || get_f32(xo, &a[0], 0, "x") < 0
      || get_f32(so, &a[1], 0, "scale") < 0 || get_f32(bo, &a[2], 0, "shift") < 0 || get_f32(oo, &a[3], 1, "out") < 0)
    goto done;
  size_t c = last_dim(&a[0].view);
  if (!c || a[0].view.len != a[3].view.len || (size_t) a[1].view.len != c * 4 || (size_t) a[2].view.len != c * 4) {
    mismatch("channel_affine(x (..., C), scale (C,), shift (C,), out (..., C), lo, hi)");
    goto done;
  }
  const float *x = a[0].view.buf, *scale = a[1].view.buf, *shift = a[2].view.buf;
  float* y = a[3].view.buf;
  size_t pixels = a[0].view.len / 4 / c;
  Py_BEGIN_ALLOW_THREADS
  for (size_t p = 0; p < pixels; p++, x += c, y += c)
    for (size_t j = 0; j < c; j++) {
      float v = x[j] * scale[j] + shift[j];
      y[j] = v < lo ? lo : v > hi ? hi : v;
    }
  Py_END_ALLOW_THREADS
  result = Py_NewRef(oo);
done:
  release(a, 4);
  return result;
}

/* channel_scale(x (N, ..., C), s (N, C), out (N, ..., C)) -> out = x * s per image and channel:
 * the squeeze-and-excitation multiply (MobileNetV3, EfficientNet), one pass. */
PyObject* channel_scale(PyObject* self, PyObject* args) {
  PyObject *xo, *so, *oo, *result = NULL;
  arg a[3] = {{0}};
  if (!PyArg_ParseTuple(args, "OOO", &xo, &so, &oo) || get_f32(xo, &a[0], 0, "x") < 0 || get_f32(so, &a[1], 0, "s") < 0
      || get_f32(oo, &a[2], 1, "out") < 0)
    goto done;
  const Py_buffer *x = &a[0].view, *s = &a[1].view;
  size_t c = last_dim(x), n = x->ndim ? (size_t) x->shape[0] : 0;
  if (!c || !n || x->len != a[2].view.len || (size_t) s->len != n * c * 4 || last_dim(s) != (Py_ssize_t) c) {
    mismatch("channel_scale(x (N, ..., C), s (N, C), out (N, ..., C))");
    goto done;
  }
  size_t pixels = x->len / 4 / c / n;
  Py_BEGIN_ALLOW_THREADS
  const float* xf = x->buf;
  float* y = a[2].view.buf;
  for (size_t i = 0; i < n; i++) {
    const float* si = (const float*) s->buf + i * c;
    for (size_t p = 0; p < pixels; p++, xf += c, y += c)
      for (size_t j = 0; j < c; j++) y[j] = xf[j] * si[j];
  }
  Py_END_ALLOW_THREADS
  result = Py_NewRef(oo);
done:
  release(a, 3);
  return result;
}
