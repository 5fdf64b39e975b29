/* Softmax and layer normalization along the last axis (a transformer's attention scores, its
 * token features), row by row: XNNPACK's max and exp-and-sum reductions for the softmax, plain
 * loops for the normalization (clang vectorises them; the variance takes a second pass over
 * the row, still in L1, as numpy's reference does). */
#include "xnn_kernels.h"

#include <math.h>
#include <wasm_simd128.h>

#include "xnnpack/raddstoreexpminusmax.h"
#include "xnnpack/reduce.h"

/* The sum over a row of x[j] - mean, squared if `square`: four lanes, then the scalar rest
 * (clang leaves float reductions scalar: vectorising reorders the additions). */
static float sum_of(const float* x, size_t d, float mean, int square) {
  v128_t acc = wasm_f32x4_const_splat(0.0f), m = wasm_f32x4_splat(mean);
  size_t j = 0;
  for (; j + 4 <= d; j += 4) {
    v128_t v = wasm_f32x4_sub(wasm_v128_load(x + j), m);
    acc = wasm_f32x4_add(acc, square ? wasm_f32x4_mul(v, v) : v);
  }
  float s = wasm_f32x4_extract_lane(acc, 0) + wasm_f32x4_extract_lane(acc, 1) + wasm_f32x4_extract_lane(acc, 2)
            + wasm_f32x4_extract_lane(acc, 3);
  for (; j < d; j++) s += square ? (x[j] - mean) * (x[j] - mean) : x[j] - mean;
  return s;
}

static int rows_args(PyObject* xo, PyObject* oo, arg* a, size_t* rows, size_t* d) {
  if (get_f32(xo, &a[0], 0, "x") < 0 || get_f32(oo, &a[1], 1, "out") < 0) return -1;
  *d = last_dim(&a[0].view);
  if (!*d || a[0].view.len != a[1].view.len || last_dim(&a[1].view) != (Py_ssize_t) *d) {
    mismatch("(x (..., D), out (..., D))");
    return -1;
  }
  *rows = a[0].view.len / 4 / *d;
  return 0;
}

/* softmax(x (..., D), out (..., D)) -> out */
PyObject* softmax(PyObject* self, PyObject* args) {
  PyObject *xo, *oo, *result = NULL;
  arg a[2] = {{0}};
  size_t rows, d;
  if (!PyArg_ParseTuple(args, "OO", &xo, &oo) || rows_args(xo, oo, a, &rows, &d) < 0) goto done;
  static const struct xnn_f32_default_params none;
  Py_BEGIN_ALLOW_THREADS
  for (size_t r = 0; r < rows; r++) {
    const float* x = (const float*) a[0].view.buf + r * d;
    float* y = (float*) a[1].view.buf + r * d;
    float max, sum = 0.0f;
    xnn_f32_rmax_ukernel__wasmsimd_pminmax_u16_acc4(d * 4, x, &max, &none);
    xnn_f32_raddstoreexpminusmax_ukernel__wasmsimd_rr2_p5_u16_acc2(d * 4, x, &max, y, &sum, NULL);
    float inverse = 1.0f / sum;
    for (size_t j = 0; j < d; j++) y[j] *= inverse;
  }
  Py_END_ALLOW_THREADS
  result = Py_NewRef(oo);
done:
  release(a, 2);
  return result;
}

/* layer_norm(x (..., D), out (..., D), epsilon[, scale (D,), bias (D,)]) -> out:
 * (x - mean) / sqrt(var + epsilon) * scale + bias per row; scale and bias may be None. */
PyObject* layer_norm(PyObject* self, PyObject* args) {
  PyObject *xo, *oo, *so = Py_None, *bo = Py_None, *result = NULL;
  float epsilon;
  arg a[4] = {{0}};
  size_t rows, d;
  if (!PyArg_ParseTuple(args, "OOf|OO", &xo, &oo, &epsilon, &so, &bo) || rows_args(xo, oo, a, &rows, &d) < 0
      || (so != Py_None && get_f32(so, &a[2], 0, "scale") < 0) || (bo != Py_None && get_f32(bo, &a[3], 0, "bias") < 0))
    goto done;
  const float* scale = so != Py_None ? a[2].view.buf : NULL;
  const float* bias = bo != Py_None ? a[3].view.buf : NULL;
  if ((scale && (size_t) a[2].view.len != d * 4) || (bias && (size_t) a[3].view.len != d * 4)) {
    mismatch("layer_norm(x (..., D), out, epsilon, scale (D,), bias (D,))");
    goto done;
  }
  Py_BEGIN_ALLOW_THREADS
  for (size_t r = 0; r < rows; r++) {
    const float* x = (const float*) a[0].view.buf + r * d;
    float* y = (float*) a[1].view.buf + r * d;
    float mean = sum_of(x, d, 0.0f, 0) / (float) d;
    float inverse = 1.0f / sqrtf(sum_of(x, d, mean, 1) / (float) d + epsilon);
    for (size_t j = 0; j < d; j++) {
      float v = (x[j] - mean) * inverse;
      y[j] = (scale ? v * scale[j] : v) + (bias ? bias[j] : 0.0f);
    }
  }
  Py_END_ALLOW_THREADS
  result = Py_NewRef(oo);
done:
  release(a, 4);
  return result;
}
