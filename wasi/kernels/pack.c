/* Weight packing, once per model at plan time, into the layouts of XNNPACK's microkernels
 * (bytes objects: immutable, so the plan's weights cannot change under a step). */
#include "xnn_kernels.h"

/* pack_gemm(w (K, N), bias (N,)) -> bytes. Per block of NR columns: NR bias values, then K
 * rows of NR weights; zeros past N (the GEMM kernels' layout). */
PyObject* pack_gemm(PyObject* self, PyObject* args) {
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
PyObject* pack_conv(PyObject* self, PyObject* args) {
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

/* A depthwise weight of channel ch at geometry tap t (= kx*kh + ky), scaled. */
static float dw_weight(const Py_buffer* w, const Py_buffer* sc, size_t ch, size_t t, size_t kh, size_t kw) {
  return scaled(w, sc, ch, ch * kh * kw + (t % kh) * kw + t / kh);
}

/* pack_dwconv(w (C, 1, kh, kw), scale float64 (C,), bias (C,)) -> bytes: per pass (xnn_kernels.h)
 * and tile of DW_TILE channels, the bias (0 after the first pass) then the pass's taps in the
 * geometry's order (kx*kh + ky), scaled as pack_conv does; a later pass's last tap is the
 * output so far (weight 1), taps past the kernel weigh 0. Then the C % 4 last channels: bias
 * and all taps. */
PyObject* pack_dwconv(PyObject* self, PyObject* args) {
  PyObject *wo, *so, *bo, *out = NULL;
  arg a[3] = {{0}};
  if (!PyArg_ParseTuple(args, "OOO", &wo, &so, &bo) || get_f32(wo, &a[0], 0, "w") < 0
      || get_typed(so, &a[1], 0, "scale", 'd', 8) < 0 || get_f32(bo, &a[2], 0, "bias") < 0)
    goto done;
  const Py_buffer *w = &a[0].view, *sc = &a[1].view, *b = &a[2].view;
  if (w->ndim != 4 || w->shape[1] != 1 || sc->len != w->shape[0] * 8 || b->len != w->shape[0] * 4
      || !dw_supported(w->shape[2] * w->shape[3])) {
    mismatch("pack_dwconv(w (C, 1, kh, kw) of 9 or at least 25 taps, scale (C,), bias (C,))");
    goto done;
  }
  size_t c = w->shape[0], kh = w->shape[2], kw = w->shape[3], taps = kh * kw, c4 = c & ~(size_t) (DW_TILE - 1);
  size_t per = dw_pass_taps(taps);
  const float* bias = b->buf;
  float* p;
  if (!(out = new_bytes(dw_packed_floats(taps, c) * 4, &p))) goto done;
  for (size_t q = 0; q < dw_passes(taps); q++)
    for (size_t c0 = 0; c0 < c4; c0 += DW_TILE, p += DW_TILE * (per + 1))
      for (size_t j = 0; j < DW_TILE; j++) {
        p[j] = q == 0 ? bias[c0 + j] : 0.0f;
        for (size_t s = 0; s < per; s++) {
          size_t t = q == 0 ? s : DW_SPLIT + (q - 1) * (DW_SPLIT - 1) + s;
          float v = q > 0 && s == per - 1 ? 1.0f : t < taps ? dw_weight(w, sc, c0 + j, t, kh, kw) : 0.0f;
          p[DW_TILE * (1 + s) + j] = v;
        }
      }
  size_t tail = c - c4;
  for (size_t j = 0; j < tail; j++) {
    p[j] = bias[c4 + j];
    for (size_t t = 0; t < taps; t++) p[tail * (1 + t) + j] = dw_weight(w, sc, c4 + j, t, kh, kw);
  }
done:
  release(a, 3);
  return out;
}
