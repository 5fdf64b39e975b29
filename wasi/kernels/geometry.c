/* Geometries: the zero row and indirection buffer of one convolution, at plan time (see
 * xnn_kernels.h for the scheme). */
#include "xnn_kernels.h"

static const float* pixel(const geometry* g, Py_ssize_t y, Py_ssize_t x) {
  if (y < 0 || (size_t) y >= g->h || x < 0 || (size_t) x >= g->w) return g->zero;
  return (const float*) (base(g) + ((size_t) y * g->w + x) * g->c * g->elem);
}

typedef struct { Py_ssize_t h, w, c, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, ho, wo; } conv_shape;

/* (H, W, C, kh, kw, stride h, w, dilation h, w, pads top, left, bottom, right) */
static int parse_shape(PyObject* args, conv_shape* s, Py_ssize_t* groups) {
  if (!PyArg_ParseTuple(args, groups ? "nnnnnnnnnnnnnn" : "nnnnnnnnnnnnn", &s->h, &s->w, &s->c, &s->kh, &s->kw,
                        &s->sh, &s->sw, &s->dh, &s->dw, &s->pt, &s->pl, &s->pb, &s->pr, groups))
    return -1;
  Py_ssize_t span_h = (s->kh - 1) * s->dh + 1, span_w = (s->kw - 1) * s->dw + 1;
  if (s->h <= 0 || s->w <= 0 || s->c <= 0 || s->kh <= 0 || s->kw <= 0 || s->sh <= 0 || s->sw <= 0 || s->dh <= 0
      || s->dw <= 0 || s->pt < 0 || s->pl < 0 || s->pb < 0 || s->pr < 0 || s->h + s->pt + s->pb < span_h
      || s->w + s->pl + s->pr < span_w || (groups && (*groups <= 0 || s->c % *groups))) {
    PyErr_SetString(PyExc_ValueError, "not a convolution geometry");
    return -1;
  }
  s->ho = (s->h + s->pt + s->pb - span_h) / s->sh + 1;
  s->wo = (s->w + s->pl + s->pr - span_w) / s->sw + 1;
  return 0;
}

static PyObject* new_geometry(const geometry* g, geometry** made) {
  size_t pointers = (size_t) g->rows * g->row_step;
  float* data;
  PyObject* out = new_bytes(sizeof(geometry) + g->zero_floats * 4 + pointers * sizeof(void*), &data);
  if (!out) return NULL;
  *made = (geometry*) data;
  **made = *g;
  (*made)->zero = (const float*) (*made + 1);
  return out;
}

const geometry* get_geometry(PyObject* obj, arg* a, uint32_t kind) {
  if (get_bytes(obj, a, "geometry") < 0) return NULL;
  const geometry* g = a->view.buf;
  if ((size_t) a->view.len < sizeof(geometry) || g->kind != kind || g->zero != (const float*) (g + 1)
      || (size_t) a->view.len != sizeof(geometry) + g->zero_floats * 4 + (size_t) g->rows * g->row_step * sizeof(void*)) {
    PyErr_SetString(PyExc_ValueError, "not a geometry this module made for this kernel (or a copy of one)");
    return NULL;
  }
  return g;
}

/* The pointers of a depthwise conv: per output row, its pixels' taps, column by column (tap
 * kx*kh + ky): adjacent pixels share the columns they overlap in (stride sw, no dilation), as
 * the unipass kernels expect. elem: bytes a value; the zero row holds `fill` bytes (int8) or 0. */
static PyObject* make_dwconv_geometry(const conv_shape* s, uint32_t kind, uint32_t elem, int fill) {
  size_t step = s->dw == 1 ? s->sw : s->kw;  /* columns between adjacent output pixels */
  geometry g = {.kind = kind, .h = s->h, .w = s->w, .c = s->c, .ho = s->ho, .wo = s->wo, .taps = s->kh * s->kw,
                .rows = s->ho, .pixel_step = step * s->kh, .row_step = s->kh * s->kw + (s->wo - 1) * step * s->kh,
                .zero_floats = (s->c * elem + 3) / 4, .elem = elem};
  geometry* made;
  PyObject* out = new_geometry(&g, &made);
  if (!out) return NULL;
  if (elem == 1) memset((void*) made->zero, fill, g.zero_floats * 4);
  const float** p = pointers(made);
  for (Py_ssize_t oy = 0; oy < s->ho; oy++)
    for (Py_ssize_t ox = 0; ox < s->wo; ox++)
      for (Py_ssize_t kx = 0; kx < s->kw; kx++)
        for (Py_ssize_t ky = 0; ky < s->kh; ky++)
          p[oy * g.row_step + ox * g.pixel_step + kx * s->kh + ky] =
              pixel(made, oy * s->sh + ky * s->dh - s->pt, ox * s->sw + kx * s->dw - s->pl);
  return out;
}

/* dwconv_geometry(H, W, C, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr) -> bytes */
PyObject* dwconv_geometry(PyObject* self, PyObject* args) {
  conv_shape s;
  if (parse_shape(args, &s, NULL) < 0) return NULL;
  return make_dwconv_geometry(&s, GEO_DWCONV, 4, 0);
}

/* qs8_dwconv_geometry(H, W, C, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, x_zero) -> bytes: the
 * same for int8 pixels; padding reads the input's zero point (the kernels take it off). */
PyObject* qs8_dwconv_geometry(PyObject* self, PyObject* args) {
  conv_shape s;
  if (PyTuple_GET_SIZE(args) != 14) return PyErr_Format(PyExc_TypeError, "qs8_dwconv_geometry takes 14 arguments");
  long zero = PyLong_AsLong(PyTuple_GET_ITEM(args, 13));
  if (zero == -1 && PyErr_Occurred()) return NULL;
  PyObject* shape = PyTuple_GetSlice(args, 0, 13);
  int bad = !shape || parse_shape(shape, &s, NULL) < 0;
  Py_XDECREF(shape);
  if (bad) return NULL;
  if (zero < -128 || zero > 127) return PyErr_Format(PyExc_ValueError, "x_zero %ld is not an int8", zero);
  return make_dwconv_geometry(&s, GEO_QS8_DWCONV, 1, (int) zero);
}

/* conv_geometry(H, W, C, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, groups) -> bytes. Per tile of MR
 * output pixels (the last one repeats its last pixel), per tap (ky*kw + kx), MR pointers: the
 * IGEMM kernels' layout. */
PyObject* conv_geometry(PyObject* self, PyObject* args) {
  conv_shape s;
  Py_ssize_t groups;
  if (parse_shape(args, &s, &groups) < 0) return NULL;
  size_t pixels = s.ho * s.wo, taps = s.kh * s.kw;
  geometry g = {.kind = GEO_CONV, .h = s.h, .w = s.w, .c = s.c, .ho = s.ho, .wo = s.wo, .taps = taps,
                .groups = groups, .rows = (pixels + MR - 1) / MR, .row_step = taps * MR, .zero_floats = s.c / groups,
                .elem = 4};
  geometry* made;
  PyObject* out = new_geometry(&g, &made);
  if (!out) return NULL;
  const float** p = pointers(made);
  for (size_t t = 0; t < g.rows; t++)
    for (size_t r = 0; r < MR; r++) {
      size_t q = t * MR + r < pixels ? t * MR + r : pixels - 1;
      Py_ssize_t oy = q / s.wo, ox = q % s.wo;
      for (Py_ssize_t ky = 0; ky < s.kh; ky++)
        for (Py_ssize_t kx = 0; kx < s.kw; kx++)
          p[t * g.row_step + (ky * s.kw + kx) * MR + r] =
              pixel(made, oy * s.sh + ky * s.dh - s.pt, ox * s.sw + kx * s.dw - s.pl);
    }
  return out;
}
