#include "xnn_kernels.h"

/* ---- layout and pooling: loops that numpy runs slowly inside wasm ------------------------------
 * numpy's transposing copy and its mean over two outer axes walk the data with strided loops:
 * 0.4 ms and 0.3 ms of a MobileNetV2 pass inside the component for the input (1, 3, 224, 224)
 * and the head's (1, 7, 7, 1280); these contiguous loops vectorise (-msimd128). */

/* nchw_to_nhwc(x (N, C, H, W), out (N, H, W, C)) -> out */
PyObject* nchw_to_nhwc(PyObject* self, PyObject* args) {
  PyObject *xo, *oo, *result = NULL;
  arg a[2] = {{0}};
  if (!PyArg_ParseTuple(args, "OO", &xo, &oo) || get_f32(xo, &a[0], 0, "x") < 0 || get_f32(oo, &a[1], 1, "out") < 0)
    goto done;
  const Py_buffer *x = &a[0].view, *o = &a[1].view;
  if (x->ndim != 4 || o->ndim != 4 || o->shape[0] != x->shape[0] || o->shape[1] != x->shape[2]
      || o->shape[2] != x->shape[3] || o->shape[3] != x->shape[1]) {
    mismatch("nchw_to_nhwc(x (N, C, H, W), out (N, H, W, C))");
    goto done;
  }
  size_t n = x->shape[0], c = x->shape[1], hw = (size_t) x->shape[2] * x->shape[3];
  Py_BEGIN_ALLOW_THREADS
  for (size_t i = 0; i < n; i++) {
    const float* src = (const float*) x->buf + i * c * hw;
    float* dst = (float*) o->buf + i * hw * c;
    for (size_t p0 = 0; p0 < hw; p0 += 64)  /* 64 pixels of every channel at a time: stays in L1 */
      for (size_t ch = 0; ch < c; ch++)
        for (size_t p = p0; p < hw && p < p0 + 64; p++) dst[p * c + ch] = src[ch * hw + p];
  }
  Py_END_ALLOW_THREADS
  result = Py_NewRef(oo);
done:
  release(a, 2);
  return result;
}

/* mean_hw(x (N, H, W, C), out (N, 1, 1, C)) -> out: the average over each image's pixels, summed
 * pixel after pixel in float32 as numpy's reduction over outer axes does. */
PyObject* mean_hw(PyObject* self, PyObject* args) {
  PyObject *xo, *oo, *result = NULL;
  arg a[2] = {{0}};
  if (!PyArg_ParseTuple(args, "OO", &xo, &oo) || get_f32(xo, &a[0], 0, "x") < 0 || get_f32(oo, &a[1], 1, "out") < 0)
    goto done;
  const Py_buffer *x = &a[0].view, *o = &a[1].view;
  if (x->ndim != 4 || o->ndim != 4 || o->shape[0] != x->shape[0] || o->shape[1] != 1 || o->shape[2] != 1
      || o->shape[3] != x->shape[3] || x->shape[1] * x->shape[2] == 0) {
    mismatch("mean_hw(x (N, H, W, C), out (N, 1, 1, C))");
    goto done;
  }
  size_t n = x->shape[0], hw = (size_t) x->shape[1] * x->shape[2], c = x->shape[3];
  Py_BEGIN_ALLOW_THREADS
  for (size_t i = 0; i < n; i++) {
    const float* src = (const float*) x->buf + i * hw * c;
    float* y = (float*) o->buf + i * c;
    memcpy(y, src, c * 4);
    for (size_t p = 1; p < hw; p++)
      for (size_t ch = 0; ch < c; ch++) y[ch] += src[p * c + ch];
    for (size_t ch = 0; ch < c; ch++) y[ch] /= (float) hw;
  }
  Py_END_ALLOW_THREADS
  result = Py_NewRef(oo);
done:
  release(a, 2);
  return result;
}
