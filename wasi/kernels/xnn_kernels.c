/* xnn_kernels: XNNPACK's wasm SIMD convolution microkernels as a CPython extension module, for
 * the engine inside the component (component/engine/ops/conv_xnn.py). XNNPACK ships kernels
 * and operators; only the microkernel files are compiled in (build.sh), and this file is the
 * rest: weight packing, the zero row and indirection buffers that stand for padding, and the
 * loops that call a microkernel per tile. No threads, no allocation per call.
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
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

#include "xnnpack/dwconv.h"
#include "xnnpack/gemm.h"
#include "xnnpack/igemm.h"

#define MR 3        /* rows of a GEMM tile */
#define NR 8        /* columns of a GEMM tile: weights are packed in blocks of NR */
#define DW_TILE 4   /* channels of a depthwise tile */

#define GEMM xnn_f32_gemm_minmax_ukernel_3x8__wasmsimd_x86_splat
#define GEMM_1 xnn_f32_gemm_minmax_ukernel_1x8__wasmsimd_x86_splat
#define IGEMM xnn_f32_igemm_minmax_ukernel_3x8__wasmsimd_x86_splat
typedef void (*dwconv_fn)(size_t, size_t, const float**, const float*, float*, intptr_t, size_t, size_t,
                          const float*, const union xnn_f32_minmax_params*);
static const struct { size_t taps; dwconv_fn fn; } DWCONVS[] = {
  {9, xnn_f32_dwconv_minmax_ukernel_9p4c__wasmsimd_x86},
  {25, xnn_f32_dwconv_minmax_ukernel_25p4c__wasmsimd_x86},
};
#define N_DWCONVS (sizeof(DWCONVS) / sizeof(DWCONVS[0]))

static dwconv_fn dwconv_kernel(size_t taps) {
  for (size_t i = 0; i < N_DWCONVS; i++)
    if (DWCONVS[i].taps == taps) return DWCONVS[i].fn;
  return NULL;
}

/* ---- arguments ------------------------------------------------------------------------------ */
typedef struct { Py_buffer view; int held; } arg;

static void release(arg* args, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (args[i].held) PyBuffer_Release(&args[i].view);
}

/* A C-contiguous buffer of float32 ("f") or float64 ("d") values, writable if asked. numpy
 * describes an unaligned one (a view of a model file's bytes) as "=f" or "<f"; wasm is
 * little-endian and its loads need no alignment. */
static int get_typed(PyObject* obj, arg* a, int writable, const char* what, char type, Py_ssize_t size) {
  if (PyObject_GetBuffer(obj, &a->view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0)) < 0)
    return -1;
  a->held = 1;
  const char* f = a->view.format;
  if (f && (f[0] == '@' || f[0] == '=' || f[0] == '<')) f++;
  if (a->view.itemsize != size || f == NULL || f[0] != type || f[1] != 0) {
    PyErr_Format(PyExc_TypeError, "%s must be %s", what, type == 'f' ? "float32" : "float64");
    return -1;
  }
  return 0;
}

static int get_f32(PyObject* obj, arg* a, int writable, const char* what) {
  return get_typed(obj, a, writable, what, 'f', 4);
}

/* A bytes object made by this module (packed weights, a geometry). */
static int get_bytes(PyObject* obj, arg* a, const char* what) {
  if (!PyBytes_Check(obj)) {
    PyErr_Format(PyExc_TypeError, "%s must be the bytes this module made", what);
    return -1;
  }
  if (PyObject_GetBuffer(obj, &a->view, PyBUF_SIMPLE) < 0) return -1;
  a->held = 1;
  return 0;
}

static Py_ssize_t last_dim(const Py_buffer* v) { return v->ndim ? v->shape[v->ndim - 1] : 1; }

static PyObject* mismatch(const char* what) {
  PyErr_Format(PyExc_ValueError, "%s: the shapes of the arguments disagree", what);
  return NULL;
}

static PyObject* new_bytes(size_t size, float** data) {
  PyObject* out = PyBytes_FromStringAndSize(NULL, size);
  if (!out) return NULL;
  if ((uintptr_t) PyBytes_AS_STRING(out) % sizeof(void*)) {  /* never seen: bytes data is 8-aligned */
    Py_DECREF(out);
    PyErr_SetString(PyExc_RuntimeError, "unaligned bytes object");
    return NULL;
  }
  memset(PyBytes_AS_STRING(out), 0, size);
  *data = (float*) PyBytes_AS_STRING(out);
  return out;
}

/* ---- GEMM weights ------------------------------------------------------------------------------ */
static size_t gemm_packed_floats(size_t k, size_t n) { return (n + NR - 1) / NR * NR * (k + 1); }

/* pack_gemm(w (K, N), bias (N,)) -> bytes. Per block of NR columns: NR bias values, then K
 * rows of NR weights; zeros past N (the GEMM kernels' layout). */
static PyObject* pack_gemm(PyObject* self, PyObject* args) {
  PyObject *wo, *bo, *out = NULL;
  arg a[2] = {{0}};
  if (!PyArg_ParseTuple(args, "OO", &wo, &bo) || get_f32(wo, &a[0], 0, "w") < 0 || get_f32(bo, &a[1], 0, "bias") < 0)
    goto done;
  const Py_buffer *w = &a[0].view, *b = &a[1].view;
  if (w->ndim != 2 || b->len != w->shape[1] * 4) {
    mismatch("pack_gemm(w (K, N), bias (N,))");
    goto done;
  }
  size_t k = w->shape[0], n = w->shape[1];
  float* p;
  if (!(out = new_bytes(gemm_packed_floats(k, n) * 4, &p))) goto done;
  for (size_t j = 0; j < n; j += NR, p += NR * (k + 1)) {
    size_t cols = n - j < NR ? n - j : NR;
    memcpy(p, (const float*) b->buf + j, cols * 4);
    for (size_t i = 0; i < k; i++) memcpy(p + NR * (1 + i), (const float*) w->buf + i * n + j, cols * 4);
  }
done:
  release(a, 2);
  return out;
}

/* The weights of ONNX's (Cout, C/G, kh, kw) layout with a folded BatchNormalization's scale:
 * the product in float64, rounded once (as the numpy path's weights are). */
static float scaled(const Py_buffer* w, const Py_buffer* scale, size_t co, size_t index) {
  return (float) ((double) ((const float*) w->buf)[index] * ((const double*) scale->buf)[co]);
}

/* pack_conv(w (Cout, C/G, kh, kw), scale float64 (Cout,), bias (Cout,), groups) -> bytes: for
 * each group the GEMM layout of its (kh*kw*C/G, Cout/G) matrix, rows in (ky, kx, c) order (the
 * conv geometry's taps), so the layout change, the scale and the packing are one pass with no
 * weight-sized temporary (it would stay in an embedded model's snapshot). */
static PyObject* pack_conv(PyObject* self, PyObject* args) {
  PyObject *wo, *so, *bo, *out = NULL;
  Py_ssize_t groups;
  arg a[3] = {{0}};
  if (!PyArg_ParseTuple(args, "OOOn", &wo, &so, &bo, &groups) || get_f32(wo, &a[0], 0, "w") < 0
      || get_typed(so, &a[1], 0, "scale", 'd', 8) < 0 || get_f32(bo, &a[2], 0, "bias") < 0)
    goto done;
  const Py_buffer *w = &a[0].view, *sc = &a[1].view, *b = &a[2].view;
  if (w->ndim != 4 || groups <= 0 || w->shape[0] % groups || sc->len != w->shape[0] * 8 || b->len != w->shape[0] * 4) {
    mismatch("pack_conv(w (Cout, C/G, kh, kw), scale (Cout,), bias (Cout,), groups)");
    goto done;
  }
  size_t cout_g = w->shape[0] / groups, cin_g = w->shape[1], taps = (size_t) w->shape[2] * w->shape[3];
  size_t k = taps * cin_g;
  float* p;
  if (!(out = new_bytes(groups * gemm_packed_floats(k, cout_g) * 4, &p))) goto done;
  for (size_t g = 0; g < (size_t) groups; g++)
    for (size_t j = 0; j < cout_g; j += NR, p += NR * (k + 1)) {
      size_t cols = cout_g - j < NR ? cout_g - j : NR;
      for (size_t col = 0; col < cols; col++) {
        size_t co = g * cout_g + j + col;
        p[col] = ((const float*) b->buf)[co];
        for (size_t t = 0; t < taps; t++)  /* t = ky * kw + kx */
          for (size_t ci = 0; ci < cin_g; ci++)
            p[NR * (1 + t * cin_g + ci) + col] = scaled(w, sc, co, (co * cin_g + ci) * taps + t);
      }
    }
done:
  release(a, 3);
  return out;
}

/* ---- GEMM ------------------------------------------------------------------------------------ */
/* Columns per pass over the rows: all of them, unless their weights outgrow WEIGHT_BLOCK bytes.
 * Then each block of columns makes a pass over all the rows while its weights stay in L2
 * instead of every 3-row tile streaming all of them: measured +10-15% on MobileNetV2's 7x7
 * layers (M = 49, 1.2-1.5 MB of weights) with caches cold, no change when warm. */
#define WEIGHT_BLOCK (256 * 1024)
static size_t gemm_block(size_t k, size_t n) {
  size_t bytes = (k + 1) * 4 * NR;  /* one block of NR columns */
  if ((n + NR - 1) / NR * bytes <= WEIGHT_BLOCK) return n;
  return (WEIGHT_BLOCK / bytes ? WEIGHT_BLOCK / bytes : 1) * NR;
}

/* gemm(x (..., K), packed, out (..., N), lo, hi[, residual (..., N)]) -> out
 * out = clip(x @ w + bias, lo, hi) [+ residual], x viewed as (M, K). */
static PyObject* gemm(PyObject* self, PyObject* args) {
  PyObject *xo, *wo, *oo, *ro = NULL, *result = NULL;
  float lo, hi;
  arg a[4] = {{0}};
  if (!PyArg_ParseTuple(args, "OOOff|O", &xo, &wo, &oo, &lo, &hi, &ro) || get_f32(xo, &a[0], 0, "x") < 0
      || get_bytes(wo, &a[1], "packed") < 0 || get_f32(oo, &a[2], 1, "out") < 0
      || (ro && get_f32(ro, &a[3], 0, "residual") < 0))
    goto done;
  const Py_buffer *x = &a[0].view, *w = &a[1].view, *o = &a[2].view, *r = ro ? &a[3].view : NULL;
  size_t k = last_dim(x), n = last_dim(o), m = k ? x->len / 4 / k : 0;
  if (!k || !n || (size_t) o->len != m * n * 4 || (size_t) w->len != gemm_packed_floats(k, n) * 4
      || (r && r->len != o->len)) {
    mismatch("gemm(x (..., K), packed (K, N), out (..., N), lo, hi[, residual])");
    goto done;
  }
  union xnn_f32_minmax_params params = {.scalar = {lo, hi}};
  const float* xf = x->buf;
  float* of = o->buf;
  size_t block = gemm_block(k, n);
  Py_BEGIN_ALLOW_THREADS
  for (size_t j = 0; j < n; j += block) {
    size_t cols = n - j < block ? n - j : block;
    const float* wj = (const float*) w->buf + j * (k + 1);
    for (size_t i = 0; i < m; i += MR) {
      size_t rows = m - i < MR ? m - i : MR;
      /* A lone row (a batch-1 classifier head) would cost a whole 3-row tile: 1x8 instead. */
      (rows == 1 ? GEMM_1 : GEMM)(rows, cols, k * 4, xf + i * k, k * 4, wj, of + i * n + j, n * 4, NR * 4, &params);
      /* The residual add of a fused Add, on the rows just finished (still in L1). */
      if (r && j + cols == n) {
        const float* rf = (const float*) r->buf + i * n;
        float* y = of + i * n;
        for (size_t e = 0; e < rows * n; e++) y[e] += rf[e];
      }
    }
  }
  Py_END_ALLOW_THREADS
  result = Py_NewRef(oo);
done:
  release(a, 4);
  return result;
}

/* ---- geometry: a zero row and the indirection buffer ------------------------------------------
 * A convolution's kernels read each tap's input through a pointer: one to an input pixel, or to
 * the zero row where the tap falls into the padding (so no padded copy of the input is made).
 * The pointers are made once, at plan time, for a base address just past the zero row; a call
 * passes (its input - that base) as the kernels' `input_offset`, which they add to every pointer
 * but the zero row's. Input pointers thus never equal the zero row's address. */
enum { GEO_DWCONV = 1, GEO_CONV = 2 };
typedef struct {
  const float* zero;      /* where this object's zero row is: checks the bytes never moved */
  uint32_t kind;
  uint32_t h, w, c;       /* one input image, NHWC */
  uint32_t ho, wo;
  uint32_t taps;          /* kh * kw */
  uint32_t groups;        /* conv */
  uint32_t rows;          /* dwconv: output rows; conv: tiles of MR output pixels */
  uint32_t row_step;      /* pointers per row (dwconv) or per tile (conv) */
  uint32_t pixel_step;    /* dwconv: pointers between adjacent output pixels */
  uint32_t zero_floats;
} geometry;

static const float** pointers(const geometry* g) { return (const float**) (g->zero + g->zero_floats); }
static uintptr_t base(const geometry* g) { return (uintptr_t) (g->zero + g->zero_floats); }

static const float* pixel(const geometry* g, Py_ssize_t y, Py_ssize_t x) {
  if (y < 0 || (size_t) y >= g->h || x < 0 || (size_t) x >= g->w) return g->zero;
  return (const float*) (base(g) + ((size_t) y * g->w + x) * g->c * 4);
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

static const geometry* get_geometry(PyObject* obj, arg* a, uint32_t kind) {
  if (get_bytes(obj, a, "geometry") < 0) return NULL;
  const geometry* g = a->view.buf;
  if ((size_t) a->view.len < sizeof(geometry) || g->kind != kind || g->zero != (const float*) (g + 1)
      || (size_t) a->view.len != sizeof(geometry) + g->zero_floats * 4 + (size_t) g->rows * g->row_step * sizeof(void*)) {
    PyErr_SetString(PyExc_ValueError, "not a geometry this module made for this kernel (or a copy of one)");
    return NULL;
  }
  return g;
}

/* dwconv_geometry(H, W, C, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr) -> bytes. Per output row, the
 * pointers of its pixels' taps, column by column (tap kx*kh + ky): adjacent pixels share the
 * columns they overlap in (stride sw, no dilation), as the unipass kernels expect. */
static PyObject* dwconv_geometry(PyObject* self, PyObject* args) {
  conv_shape s;
  if (parse_shape(args, &s, NULL) < 0) return NULL;
  size_t step = s.dw == 1 ? s.sw : s.kw;  /* columns between adjacent output pixels */
  geometry g = {.kind = GEO_DWCONV, .h = s.h, .w = s.w, .c = s.c, .ho = s.ho, .wo = s.wo, .taps = s.kh * s.kw,
                .rows = s.ho, .pixel_step = step * s.kh, .row_step = s.kh * s.kw + (s.wo - 1) * step * s.kh,
                .zero_floats = s.c};
  geometry* made;
  PyObject* out = new_geometry(&g, &made);
  if (!out) return NULL;
  const float** p = pointers(made);
  for (Py_ssize_t oy = 0; oy < s.ho; oy++)
    for (Py_ssize_t ox = 0; ox < s.wo; ox++)
      for (Py_ssize_t kx = 0; kx < s.kw; kx++)
        for (Py_ssize_t ky = 0; ky < s.kh; ky++)
          p[oy * g.row_step + ox * g.pixel_step + kx * s.kh + ky] =
              pixel(made, oy * s.sh + ky * s.dh - s.pt, ox * s.sw + kx * s.dw - s.pl);
  return out;
}

/* conv_geometry(H, W, C, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, groups) -> bytes. Per tile of MR
 * output pixels (the last one repeats its last pixel), per tap (ky*kw + kx), MR pointers: the
 * IGEMM kernels' layout. */
static PyObject* conv_geometry(PyObject* self, PyObject* args) {
  conv_shape s;
  Py_ssize_t groups;
  if (parse_shape(args, &s, &groups) < 0) return NULL;
  size_t pixels = s.ho * s.wo, taps = s.kh * s.kw;
  geometry g = {.kind = GEO_CONV, .h = s.h, .w = s.w, .c = s.c, .ho = s.ho, .wo = s.wo, .taps = taps,
                .groups = groups, .rows = (pixels + MR - 1) / MR, .row_step = taps * MR, .zero_floats = s.c / groups};
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

/* ---- depthwise conv ---------------------------------------------------------------------------
 * The kernels run on the first C4 = C & ~3 channels: their remainder path loads 4 channels and so
 * would read past the end of the input. The last C % 4 channels are done here in plain C. */
static size_t dw_packed_floats(size_t taps, size_t c) { return c * (taps + 1); }  /* no padding: DW_TILE is 4 */

/* pack_dwconv(w (C, 1, kh, kw), scale float64 (C,), bias (C,)) -> bytes: per tile of DW_TILE
 * channels, the bias then the taps in the geometry's order (kx*kh + ky), scaled as pack_conv
 * does; the C % 4 last channels likewise after them. */
static PyObject* pack_dwconv(PyObject* self, PyObject* args) {
  PyObject *wo, *so, *bo, *out = NULL;
  arg a[3] = {{0}};
  if (!PyArg_ParseTuple(args, "OOO", &wo, &so, &bo) || get_f32(wo, &a[0], 0, "w") < 0
      || get_typed(so, &a[1], 0, "scale", 'd', 8) < 0 || get_f32(bo, &a[2], 0, "bias") < 0)
    goto done;
  const Py_buffer *w = &a[0].view, *sc = &a[1].view, *b = &a[2].view;
  if (w->ndim != 4 || w->shape[1] != 1 || sc->len != w->shape[0] * 8 || b->len != w->shape[0] * 4
      || !dwconv_kernel(w->shape[2] * w->shape[3])) {
    mismatch("pack_dwconv(w (C, 1, kh, kw) of 9 or 25 taps, scale (C,), bias (C,))");
    goto done;
  }
  size_t c = w->shape[0], kh = w->shape[2], kw = w->shape[3], taps = kh * kw, c4 = c & ~(size_t) (DW_TILE - 1);
  float* p;
  if (!(out = new_bytes(dw_packed_floats(taps, c) * 4, &p))) goto done;
  for (size_t c0 = 0; c0 < c; c0 += DW_TILE) {
    size_t width = c0 < c4 ? DW_TILE : c - c4;  /* the tail's tile is C % 4 wide */
    for (size_t j = 0; j < width; j++) {
      p[j] = ((const float*) b->buf)[c0 + j];
      for (size_t kx = 0; kx < kw; kx++)
        for (size_t ky = 0; ky < kh; ky++) p[width * (1 + kx * kh + ky) + j] = scaled(w, sc, c0 + j, (c0 + j) * taps + ky * kw + kx);
    }
    p += width * (taps + 1);
  }
done:
  release(a, 3);
  return out;
}

/* dwconv(x (N, H, W, C), packed, geometry, out (N, Ho, Wo, C), lo, hi) -> out */
static PyObject* dwconv(PyObject* self, PyObject* args) {
  PyObject *xo, *wo, *go, *oo, *result = NULL;
  float lo, hi;
  arg a[4] = {{0}};
  const geometry* g;
  if (!PyArg_ParseTuple(args, "OOOOff", &xo, &wo, &go, &oo, &lo, &hi) || get_f32(xo, &a[0], 0, "x") < 0
      || get_bytes(wo, &a[1], "packed") < 0 || !(g = get_geometry(go, &a[2], GEO_DWCONV))
      || get_f32(oo, &a[3], 1, "out") < 0)
    goto done;
  const Py_buffer *x = &a[0].view, *w = &a[1].view, *o = &a[3].view;
  dwconv_fn fn = dwconv_kernel(g->taps);
  size_t c = g->c, taps = g->taps, image = (size_t) g->h * g->w * c, n = x->len / 4 / image;
  if (!fn || (size_t) x->len != n * image * 4 || (size_t) o->len != n * g->ho * g->wo * c * 4
      || (size_t) w->len != dw_packed_floats(taps, c) * 4) {
    mismatch("dwconv(x, packed, geometry, out, lo, hi)");
    goto done;
  }
  union xnn_f32_minmax_params params = {.scalar = {lo, hi}};
  size_t c4 = c & ~(size_t) (DW_TILE - 1), tail = c - c4;
  const float* tail_w = (const float*) w->buf + c4 * (taps + 1);
  Py_BEGIN_ALLOW_THREADS
  for (size_t i = 0; i < n; i++) {
    size_t offset = (uintptr_t) ((const float*) x->buf + i * image) - base(g);
    for (size_t oy = 0; oy < g->ho; oy++) {
      float* row = (float*) o->buf + (i * g->ho + oy) * g->wo * c;
      const float** rp = pointers(g) + oy * g->row_step;
      if (c4) fn(c4, g->wo, rp, w->buf, row, g->pixel_step * sizeof(void*), tail * 4, offset, g->zero, &params);
      for (size_t ox = 0; tail && ox < g->wo; ox++) {
        float* y = row + ox * c + c4;
        for (size_t j = 0; j < tail; j++) y[j] = tail_w[j];
        for (size_t t = 0; t < taps; t++) {
          const float* p = rp[ox * g->pixel_step + t];
          p = (p == g->zero ? p : (const float*) ((uintptr_t) p + offset)) + c4;
          for (size_t j = 0; j < tail; j++) y[j] += p[j] * tail_w[tail * (1 + t) + j];
        }
        for (size_t j = 0; j < tail; j++) y[j] = y[j] < lo ? lo : y[j] > hi ? hi : y[j];
      }
    }
  }
  Py_END_ALLOW_THREADS
  result = Py_NewRef(oo);
done:
  release(a, 4);
  return result;
}

/* ---- any other conv: indirect GEMM ---------------------------------------------------------------
 * IGEMM reads each tap's C/G input channels through the tile's pointers. With fewer than 4 of
 * them (the stem's 3 RGB channels; grouped convs of 1-3 channels a group) its k-loop never gets
 * to the 4-step main path: then the tile's rows are gathered (a small im2col on the stack, the
 * same pointers) and multiplied by a plain GEMM over K = kh*kw*C/G. Measured on the 3x3 s2 stem
 * (224x224x3 -> 112x112x32): IGEMM 1.33 ms plain / 1.93 ms epoch on, GEMM over K = 27 0.84 / 0.95. */
#define GATHER_MAX 256  /* floats of one gathered row */

static void gather(float* rows, size_t count, size_t k, size_t cin, size_t taps, const float** p, size_t offset,
                   const float* zero) {
  for (size_t r = 0; r < count; r++)
    for (size_t t = 0; t < taps;) {
      const float* src = p[t * MR + r];
      /* The run of taps whose pixels follow each other in memory (a kernel row inside the image). */
      size_t run = 1;
      while (src != zero && t + run < taps && p[(t + run) * MR + r] == src + run * cin) run++;
      src = src == zero ? zero : (const float*) ((uintptr_t) src + offset);
      float* dst = rows + r * k + t * cin;
      for (size_t c = 0; c < run * cin; c++) dst[c] = src[c];
      t += run;
    }
}

/* conv(x (N, H, W, C), packed (pack_conv), geometry, out (N, Ho, Wo, Cout), lo, hi) -> out */
static PyObject* conv(PyObject* self, PyObject* args) {
  PyObject *xo, *wo, *go, *oo, *result = NULL;
  float lo, hi;
  arg a[4] = {{0}};
  const geometry* g;
  if (!PyArg_ParseTuple(args, "OOOOff", &xo, &wo, &go, &oo, &lo, &hi) || get_f32(xo, &a[0], 0, "x") < 0
      || get_bytes(wo, &a[1], "packed") < 0 || !(g = get_geometry(go, &a[2], GEO_CONV))
      || get_f32(oo, &a[3], 1, "out") < 0)
    goto done;
  const Py_buffer *x = &a[0].view, *w = &a[1].view, *o = &a[3].view;
  size_t image = (size_t) g->h * g->w * g->c, n = x->len / 4 / image, pixels = (size_t) g->ho * g->wo;
  size_t cout = last_dim(o), groups = g->groups, cin_g = g->c / groups, cout_g = cout / groups;
  size_t k = g->taps * cin_g, per_group = gemm_packed_floats(k, cout_g);
  if ((size_t) x->len != n * image * 4 || cout % groups || (size_t) o->len != n * pixels * cout * 4
      || (size_t) w->len != groups * per_group * 4) {
    mismatch("conv(x, packed, geometry, out, lo, hi)");
    goto done;
  }
  union xnn_f32_minmax_params params = {.scalar = {lo, hi}};
  int gathered = cin_g < 4 && k <= GATHER_MAX;
  float rows[MR * GATHER_MAX];
  Py_BEGIN_ALLOW_THREADS
  for (size_t i = 0; i < n; i++)
    for (size_t gi = 0; gi < groups; gi++) {
      /* The group's channels: an offset on the input pointers (the zero row is not offset). */
      size_t offset = (uintptr_t) ((const float*) x->buf + i * image + gi * cin_g) - base(g);
      const float* wg = (const float*) w->buf + gi * per_group;
      for (size_t t = 0; t < g->rows; t++) {
        size_t count = pixels - t * MR < MR ? pixels - t * MR : MR;
        const float** p = pointers(g) + t * g->row_step;
        float* y = (float*) o->buf + (i * pixels + t * MR) * cout + gi * cout_g;
        if (gathered) {
          gather(rows, count, k, cin_g, g->taps, p, offset, g->zero);
          (count == 1 ? GEMM_1 : GEMM)(count, cout_g, k * 4, rows, k * 4, wg, y, cout * 4, NR * 4, &params);
        } else {
          IGEMM(count, cout_g, cin_g * 4, g->taps * MR * sizeof(void*), p, wg, y, cout * 4, NR * 4, offset, g->zero,
                &params);
        }
      }
    }
  Py_END_ALLOW_THREADS
  result = Py_NewRef(oo);
done:
  release(a, 4);
  return result;
}

/* ---- layout and pooling: loops that numpy runs slowly inside wasm ------------------------------
 * numpy's transposing copy and its mean over two outer axes walk the data with strided loops:
 * 0.4 ms and 0.3 ms of a MobileNetV2 pass inside the component for the input (1, 3, 224, 224)
 * and the head's (1, 7, 7, 1280); these contiguous loops vectorise (-msimd128). */

/* nchw_to_nhwc(x (N, C, H, W), out (N, H, W, C)) -> out */
static PyObject* nchw_to_nhwc(PyObject* self, PyObject* args) {
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
static PyObject* mean_hw(PyObject* self, PyObject* args) {
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

/* ---- the module -------------------------------------------------------------------------------- */
static PyMethodDef METHODS[] = {
  {"pack_gemm", pack_gemm, METH_VARARGS, "pack_gemm(w (K, N), bias (N,)) -> packed bytes"},
  {"pack_conv", pack_conv, METH_VARARGS, "pack_conv(w (Cout, C/G, kh, kw), scale (Cout,), bias (Cout,), groups) -> packed bytes"},
  {"gemm", gemm, METH_VARARGS, "gemm(x (..., K), packed, out (..., N), lo, hi[, residual]) -> out"},
  {"pack_dwconv", pack_dwconv, METH_VARARGS, "pack_dwconv(w (C, 1, kh, kw), scale (C,), bias (C,)) -> packed bytes"},
  {"dwconv_geometry", dwconv_geometry, METH_VARARGS, "dwconv_geometry(H, W, C, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr)"},
  {"dwconv", dwconv, METH_VARARGS, "dwconv(x (N, H, W, C), packed, geometry, out (N, Ho, Wo, C), lo, hi) -> out"},
  {"conv_geometry", conv_geometry, METH_VARARGS, "conv_geometry(H, W, C, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, groups)"},
  {"conv", conv, METH_VARARGS, "conv(x (N, H, W, C), packed, geometry, out (N, Ho, Wo, Cout), lo, hi) -> out"},
  {"nchw_to_nhwc", nchw_to_nhwc, METH_VARARGS, "nchw_to_nhwc(x (N, C, H, W), out (N, H, W, C)) -> out"},
  {"mean_hw", mean_hw, METH_VARARGS, "mean_hw(x (N, H, W, C), out (N, 1, 1, C)) -> out"},
  {NULL, NULL, 0, NULL},
};

static struct PyModuleDef MODULE = {PyModuleDef_HEAD_INIT, "xnn_kernels",
                                    "XNNPACK's wasm SIMD convolution microkernels (see xnn_kernels.c).", -1, METHODS};

PyMODINIT_FUNC PyInit_xnn_kernels(void) {
  PyObject* m = PyModule_Create(&MODULE);
  PyObject* taps = m ? PyTuple_New(N_DWCONVS) : NULL;
  for (size_t i = 0; taps && i < N_DWCONVS; i++) PyTuple_SET_ITEM(taps, i, PyLong_FromSize_t(DWCONVS[i].taps));
  if (m && PyModule_Add(m, "DWCONV_TAPS", taps) < 0) Py_CLEAR(m);
  return m;
}
