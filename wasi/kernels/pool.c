/* Max and average pooling over a depthwise geometry (geometry.c: per output pixel, a pointer
 * per tap, the zero row where a tap falls outside the image), in plain C loops that clang
 * vectorises over the channels. A tap on the zero row is skipped: for the max it never
 * competes (max pooling ignores padding), for the average it adds nothing, and the divisor
 * per output pixel (count_include_pad, ceil_mode) is given at plan time. */
#include "xnn_kernels.h"

/* pool(x (N, H, W, C), geometry, out (N, Ho, Wo, C), divisors (Ho, Wo) or None) -> out:
 * the max of each window without divisors, its sum / divisor with them. */
PyObject* pool(PyObject* self, PyObject* args) {
  PyObject *xo, *go, *oo, *dvo, *result = NULL;
  arg a[4] = {{0}};
  const geometry* g;
  if (!PyArg_ParseTuple(args, "OOOO", &xo, &go, &oo, &dvo) || get_f32(xo, &a[0], 0, "x") < 0
      || !(g = get_geometry(go, &a[1], GEO_DWCONV)) || get_f32(oo, &a[2], 1, "out") < 0
      || (dvo != Py_None && get_f32(dvo, &a[3], 0, "divisors") < 0))
    goto done;
  const Py_buffer *x = &a[0].view, *o = &a[2].view, *dv = dvo != Py_None ? &a[3].view : NULL;
  size_t c = g->c, taps = g->taps, image = (size_t) g->h * g->w * c, n = x->len / 4 / image;
  if ((size_t) x->len != n * image * 4 || (size_t) o->len != n * g->ho * g->wo * c * 4
      || (dv && (size_t) dv->len != (size_t) g->ho * g->wo * 4)) {
    mismatch("pool(x, geometry, out, divisors)");
    goto done;
  }
  Py_BEGIN_ALLOW_THREADS
  for (size_t i = 0; i < n; i++) {
    size_t offset = (uintptr_t) ((const float*) x->buf + i * image) - base(g);
    for (size_t oy = 0; oy < g->ho; oy++)
      for (size_t ox = 0; ox < g->wo; ox++) {
        float* y = (float*) o->buf + ((i * g->ho + oy) * g->wo + ox) * c;
        const float** p = pointers(g) + oy * g->row_step + ox * g->pixel_step;
        int first = 1;
        for (size_t t = 0; t < taps; t++) {
          if (p[t] == g->zero) continue;
          const float* src = (const float*) ((uintptr_t) p[t] + offset);
          if (first) memcpy(y, src, c * 4);
          else if (dv) for (size_t j = 0; j < c; j++) y[j] += src[j];
          else for (size_t j = 0; j < c; j++) y[j] = y[j] < src[j] ? src[j] : y[j];
          first = 0;
        }
        if (first) memset(y, 0, c * 4);  /* a window of padding only (an average's 0 / divisor) */
        if (dv) {
          float divisor = ((const float*) dv->buf)[oy * g->wo + ox];
          for (size_t j = 0; j < c; j++) y[j] /= divisor;
        }
      }
  }
  Py_END_ALLOW_THREADS
  result = Py_NewRef(oo);
done:
  release(a, 4);
  return result;
}
