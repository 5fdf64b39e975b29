/* The calls of a forward pass: loops over tiles, each a call of one of XNNPACK's microkernels
 * (chosen in module.c's overview), with bias and clip in its epilogue, then the fused
 * activation (activation.c) and residual on the rows just written, while they are in L1. */
#include "xnn_kernels.h"

#include <math.h>

#define GEMM xnn_f32_gemm_minmax_ukernel_3x8__wasmsimd_x86_splat
#define GEMM_1 xnn_f32_gemm_minmax_ukernel_1x8__wasmsimd_x86_splat
#define IGEMM xnn_f32_igemm_minmax_ukernel_3x8__wasmsimd_x86_splat

dwconv_fn dwconv_kernel(size_t taps) {
  return taps == 9 ? xnn_f32_dwconv_minmax_ukernel_9p4c__wasmsimd_x86
         : taps >= DW_SPLIT ? xnn_f32_dwconv_minmax_ukernel_25p4c__wasmsimd_x86 : NULL;
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

static int bad_activation(int act) {
  if (act >= ACT_NONE && act < ACT_HARDSIGMOID) return 0;  /* HardSigmoid's parameters: unary only */
  PyErr_Format(PyExc_ValueError, "activation code %d is not one a conv epilogue applies", act);
  return 1;
}

/* gemm(x (..., K), packed, out (..., N), lo, hi[, residual (..., N) or None[, act]]) -> out
 * out = act(clip(x @ w + bias, lo, hi)) [+ residual], x viewed as (M, K). */
PyObject* gemm(PyObject* self, PyObject* args) {
  PyObject *xo, *wo, *oo, *ro = Py_None, *result = NULL;
  float lo, hi;
  int act = ACT_NONE;
  arg a[4] = {{0}};
  if (!PyArg_ParseTuple(args, "OOOff|Oi", &xo, &wo, &oo, &lo, &hi, &ro, &act) || bad_activation(act)
      || get_f32(xo, &a[0], 0, "x") < 0 || get_bytes(wo, &a[1], "packed") < 0 || get_f32(oo, &a[2], 1, "out") < 0
      || (ro != Py_None && get_f32(ro, &a[3], 0, "residual") < 0))
    goto done;
  const Py_buffer *x = &a[0].view, *w = &a[1].view, *o = &a[2].view, *r = ro != Py_None ? &a[3].view : NULL;
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
      /* The activation and the residual add of a fused Add, on the rows just finished. */
      if (j + cols == n) {
        float* y = of + i * n;
        activate(act, y, y, rows * n, 0.0f, 0.0f);
        const float* rf = r ? (const float*) r->buf + i * n : NULL;
        for (size_t e = 0; rf && e < rows * n; e++) y[e] += rf[e];
      }
    }
  }
  Py_END_ALLOW_THREADS
  result = Py_NewRef(oo);
done:
  release(a, 4);
  return result;
}

/* ---- depthwise conv ---------------------------------------------------------------------------
 * The kernels run on the first C4 = C & ~3 channels: their remainder path loads 4 channels and so
 * would read past the end of the input. The last C % 4 channels are done here in plain C. More
 * than 25 taps: passes of the 25-tap kernel (xnn_kernels.h), whose later passes read their
 * pointers from PASS_PIXELS pixels' worth made here: 24 taps and the output pixel. */
#define PASS_PIXELS 16

static void later_pass(dwconv_fn fn, const geometry* g, size_t q, const float** rp, const float* wq, float* row,
                       size_t c4, size_t c, size_t offset, const union xnn_f32_minmax_params* params) {
  const float* p[PASS_PIXELS * DW_SPLIT];
  for (size_t ox0 = 0; ox0 < g->wo; ox0 += PASS_PIXELS) {
    size_t count = g->wo - ox0 < PASS_PIXELS ? g->wo - ox0 : PASS_PIXELS;
    for (size_t k = 0; k < count; k++) {
      for (size_t s = 0; s + 1 < DW_SPLIT; s++) {
        size_t t = DW_SPLIT + (q - 1) * (DW_SPLIT - 1) + s;
        p[k * DW_SPLIT + s] = t < g->taps ? rp[(ox0 + k) * g->pixel_step + t] : g->zero;
      }
      /* The output pixel, stored as the kernel's pointers are: minus the offset it adds. */
      p[k * DW_SPLIT + DW_SPLIT - 1] = (const float*) ((uintptr_t) (row + (ox0 + k) * c) - offset);
    }
    fn(c4, count, p, wq, row + ox0 * c, DW_SPLIT * sizeof(void*), (c - c4) * 4, offset, g->zero, params);
  }
}

/* dwconv(x (N, H, W, C), packed, geometry, out (N, Ho, Wo, C), lo, hi[, act]) -> out */
PyObject* dwconv(PyObject* self, PyObject* args) {
  PyObject *xo, *wo, *go, *oo, *result = NULL;
  float lo, hi;
  int act = ACT_NONE;
  arg a[4] = {{0}};
  const geometry* g;
  if (!PyArg_ParseTuple(args, "OOOOff|i", &xo, &wo, &go, &oo, &lo, &hi, &act) || bad_activation(act)
      || get_f32(xo, &a[0], 0, "x") < 0 || get_bytes(wo, &a[1], "packed") < 0
      || !(g = get_geometry(go, &a[2], GEO_DWCONV)) || get_f32(oo, &a[3], 1, "out") < 0)
    goto done;
  const Py_buffer *x = &a[0].view, *w = &a[1].view, *o = &a[3].view;
  dwconv_fn fn = dwconv_kernel(g->taps);
  size_t c = g->c, taps = g->taps, image = (size_t) g->h * g->w * c, n = x->len / 4 / image;
  if (!fn || (size_t) x->len != n * image * 4 || (size_t) o->len != n * g->ho * g->wo * c * 4
      || (size_t) w->len != dw_packed_floats(taps, c) * 4) {
    mismatch("dwconv(x, packed, geometry, out, lo, hi)");
    goto done;
  }
  size_t passes = dw_passes(taps), pass_floats;
  size_t c4 = c & ~(size_t) (DW_TILE - 1), tail = c - c4;
  pass_floats = c4 * (dw_pass_taps(taps) + 1);
  const float* tail_w = (const float*) w->buf + passes * pass_floats;
  union xnn_f32_minmax_params params = {.scalar = {lo, hi}}, open = {.scalar = {-INFINITY, INFINITY}};
  Py_BEGIN_ALLOW_THREADS
  for (size_t i = 0; i < n; i++) {
    size_t offset = (uintptr_t) ((const float*) x->buf + i * image) - base(g);
    for (size_t oy = 0; oy < g->ho; oy++) {
      float* row = (float*) o->buf + (i * g->ho + oy) * g->wo * c;
      const float** rp = pointers(g) + oy * g->row_step;
      for (size_t q = 0; c4 && q < passes; q++) {
        const float* wq = (const float*) w->buf + q * pass_floats;
        const union xnn_f32_minmax_params* pq = q + 1 == passes ? &params : &open;
        if (q == 0) fn(c4, g->wo, rp, wq, row, g->pixel_step * sizeof(void*), tail * 4, offset, g->zero, pq);
        else later_pass(fn, g, q, rp, wq, row, c4, c, offset, pq);
      }
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
      activate(act, row, row, g->wo * c, 0.0f, 0.0f);
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
#define GATHER_MAX 1024  /* floats of one gathered row: up to ViT's 16x16 patches of 3 channels */

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

/* conv(x (N, H, W, C), packed (pack_conv), geometry, out (N, Ho, Wo, Cout), lo, hi[, act]) -> out */
PyObject* conv(PyObject* self, PyObject* args) {
  PyObject *xo, *wo, *go, *oo, *result = NULL;
  float lo, hi;
  int act = ACT_NONE;
  arg a[4] = {{0}};
  const geometry* g;
  if (!PyArg_ParseTuple(args, "OOOOff|i", &xo, &wo, &go, &oo, &lo, &hi, &act) || bad_activation(act)
      || get_f32(xo, &a[0], 0, "x") < 0
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
  static float rows[MR * GATHER_MAX];  /* static: 12 KB is much for the wasm stack; no threads */
  Py_BEGIN_ALLOW_THREADS
  for (size_t i = 0; i < n; i++) {
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
        if (groups == 1) activate(act, y, y, count * cout, 0.0f, 0.0f);  /* the tile, while in L1 */
      }
    }
    float* image_out = (float*) o->buf + i * pixels * cout;
    if (groups > 1) activate(act, image_out, image_out, pixels * cout, 0.0f, 0.0f);
  }
  Py_END_ALLOW_THREADS
  result = Py_NewRef(oo);
done:
  release(a, 4);
  return result;
}
