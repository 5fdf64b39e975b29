/* xnn_kernels: shared declarations of the module's files (module.c has the overview):
 *   args.c      buffers in (the buffer protocol, checked) and bytes out
 *   pack.c      weight packing, at plan time
 *   geometry.c  zero rows and indirection buffers, at plan time
 *   run.c       the tile loops that call XNNPACK's microkernels
 *   layout.c    the layout change and the spatial mean
 *   activation.c  element-wise activations (conv epilogues, unary), per-channel affine and scale
 *   pool.c      max and average pooling
 *   rows.c      softmax and layer normalization along the last axis
 *   bmm.c       batched products of two run-time operands
 *   transpose.c transposes of up to 6 axes
 *   qs8.c       the integer (int8) GEMM */
#pragma once
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

/* ---- arguments (args.c) ---- */
typedef struct { Py_buffer view; int held; } arg;

void release(arg* args, size_t n);
int get_typed(PyObject* obj, arg* a, int writable, const char* what, char type, Py_ssize_t size);
int get_f32(PyObject* obj, arg* a, int writable, const char* what);
int get_bytes(PyObject* obj, arg* a, const char* what);
PyObject* mismatch(const char* what);
PyObject* new_bytes(size_t size, float** data);

static inline Py_ssize_t last_dim(const Py_buffer* v) { return v->ndim ? v->shape[v->ndim - 1] : 1; }

/* ---- packed weights (pack.c) ---- */
static inline size_t gemm_packed_floats(size_t k, size_t n) { return (n + NR - 1) / NR * NR * (k + 1); }
/* Depthwise kernels of more than 25 taps (7x7) run as passes of the 25-tap kernel: the first
 * takes taps 0-24 with the bias, each later one 24 more taps plus the output so far (a 25th
 * tap of weight 1 that points at the output pixel itself). Passes of 4-channel tiles, then the
 * C % 4 last channels as one block of all taps (run.c does those in plain C). */
#define DW_SPLIT 25
static inline int dw_supported(size_t taps) { return taps == 9 || taps >= DW_SPLIT; }
static inline size_t dw_passes(size_t taps) { return taps <= DW_SPLIT ? 1 : 1 + (taps - 2) / (DW_SPLIT - 1); }
static inline size_t dw_pass_taps(size_t taps) { return taps <= DW_SPLIT ? taps : DW_SPLIT; }
static inline size_t dw_packed_floats(size_t taps, size_t c) {
  size_t c4 = c & ~(size_t) (DW_TILE - 1);
  return dw_passes(taps) * c4 * (dw_pass_taps(taps) + 1) + (c - c4) * (taps + 1);
}

/* ---- geometries (geometry.c) ---- */
/* ---- geometry: a zero row and the indirection buffer ------------------------------------------
 * A convolution's kernels read each tap's input through a pointer: one to an input pixel, or to
 * the zero row where the tap falls into the padding (so no padded copy of the input is made).
 * The pointers are made once, at plan time, for a base address just past the zero row; a call
 * passes (its input - that base) as the kernels' `input_offset`, which they add to every pointer
 * but the zero row's. Input pointers thus never equal the zero row's address. */
enum { GEO_DWCONV = 1, GEO_CONV = 2, GEO_QS8_DWCONV = 3 };  /* 3: int8 pixels, a zero row of the input zero point */
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
  uint32_t elem;          /* bytes a value: 4 (float32), 1 (int8: GEO_QS8_DWCONV) */
} geometry;

static inline const float** pointers(const geometry* g) { return (const float**) (g->zero + g->zero_floats); }
static inline uintptr_t base(const geometry* g) { return (uintptr_t) (g->zero + g->zero_floats); }

const geometry* get_geometry(PyObject* obj, arg* a, uint32_t kind);

/* ---- depthwise microkernels by tap count (run.c) ---- */
typedef void (*dwconv_fn)(size_t, size_t, const float**, const float*, float*, intptr_t, size_t, size_t,
                          const float*, const union xnn_f32_minmax_params*);
dwconv_fn dwconv_kernel(size_t taps);

/* ---- activations (activation.c): codes as Python passes them (module.c's ACTIVATIONS) ---- */
enum { ACT_NONE, ACT_SIGMOID, ACT_SILU, ACT_TANH, ACT_GELU, ACT_HARDSWISH, ACT_HARDSIGMOID, N_ACTIVATIONS };
void activate(int act, const float* x, float* y, size_t n, float alpha, float beta);

/* ---- the module's functions ---- */
PyObject* pack_gemm(PyObject* self, PyObject* args);
PyObject* pack_conv(PyObject* self, PyObject* args);
PyObject* pack_dwconv(PyObject* self, PyObject* args);
PyObject* dwconv_geometry(PyObject* self, PyObject* args);
PyObject* conv_geometry(PyObject* self, PyObject* args);
PyObject* gemm(PyObject* self, PyObject* args);
PyObject* dwconv(PyObject* self, PyObject* args);
PyObject* conv(PyObject* self, PyObject* args);
PyObject* nchw_to_nhwc(PyObject* self, PyObject* args);
PyObject* mean_hw(PyObject* self, PyObject* args);
PyObject* unary(PyObject* self, PyObject* args);
PyObject* channel_affine(PyObject* self, PyObject* args);
PyObject* channel_scale(PyObject* self, PyObject* args);
PyObject* pool(PyObject* self, PyObject* args);
PyObject* softmax(PyObject* self, PyObject* args);
PyObject* layer_norm(PyObject* self, PyObject* args);
PyObject* bmm(PyObject* self, PyObject* args);
PyObject* transpose(PyObject* self, PyObject* args);
PyObject* qs8_dwconv_geometry(PyObject* self, PyObject* args);  /* geometry.c, for qs8.c's depthwise */
PyObject* qs8_gemm(PyObject* self, PyObject* args);  /* qs8.c: the integer GEMM and depthwise conv */
PyObject* qs8_dwconv(PyObject* self, PyObject* args);
PyObject* qs8_gemm_f32(PyObject* self, PyObject* args);  /* qs8.c: int8 products with a float output */
PyObject* qs8_im2col(PyObject* self, PyObject* args);  /* qs8.c: a conv's windows, for the GEMM */
