/* Batched products of two run-time operands (attention: scores = Q K^T, then scores V): per
 * batch item, the right operand is packed into the GEMM kernels' layout (pack.c's, zero bias)
 * in a scratch buffer, then multiplied as run.c's gemm does. The packing reads K x N floats
 * for 2 x M x K x N FLOPs of product, so it costs little once M is more than a few rows. */
#include "xnn_kernels.h"

#include <math.h>
#include <stdlib.h>

#define GEMM xnn_f32_gemm_minmax_ukernel_3x8__wasmsimd_x86_splat
#define GEMM_1 xnn_f32_gemm_minmax_ukernel_1x8__wasmsimd_x86_splat

/* One buffer for the packed operand, grown to the largest seen and kept for the instance's
 * life (the module has no threads): no allocation per call once warm. */
static float* scratch;
static size_t scratch_floats;

static float* packed_scratch(size_t floats) {
  if (floats > scratch_floats) {
    float* grown = realloc(scratch, floats * 4);
    if (!grown) return NULL;
    scratch = grown;
    scratch_floats = floats;
  }
  return scratch;
}

static void pack(const float* b, size_t k, size_t n, float* p) {
  for (size_t j = 0; j < n; j += NR, p += NR * (k + 1)) {
    size_t cols = n - j < NR ? n - j : NR;
    memset(p, 0, NR * 4);
    for (size_t i = 0; i < k; i++) {
      float* row = p + NR * (1 + i);
      memcpy(row, b + i * n + j, cols * 4);
      if (cols < NR) memset(row + cols, 0, (NR - cols) * 4);
    }
  }
}

/* bmm(a (B, M, K), b (B, K, N), out (B, M, N)) -> out, any leading dims flattened into B. */
PyObject* bmm(PyObject* self, PyObject* args) {
  PyObject *ao, *bo, *oo, *result = NULL;
  arg a[3] = {{0}};
  if (!PyArg_ParseTuple(args, "OOO", &ao, &bo, &oo) || get_f32(ao, &a[0], 0, "a") < 0 || get_f32(bo, &a[1], 0, "b") < 0
      || get_f32(oo, &a[2], 1, "out") < 0)
    goto done;
  const Py_buffer *av = &a[0].view, *bv = &a[1].view, *ov = &a[2].view;
  if (av->ndim < 2 || bv->ndim < 2 || ov->ndim < 2) {
    mismatch("bmm(a (B, M, K), b (B, K, N), out (B, M, N))");
    goto done;
  }
  size_t m = av->shape[av->ndim - 2], k = last_dim(av), n = last_dim(bv);
  size_t batch = m * k ? av->len / 4 / (m * k) : 0;
  if (!m || !k || !n || (size_t) bv->shape[bv->ndim - 2] != k || (size_t) bv->len != batch * k * n * 4
      || (size_t) ov->len != batch * m * n * 4 || last_dim(ov) != (Py_ssize_t) n) {
    mismatch("bmm(a (B, M, K), b (B, K, N), out (B, M, N))");
    goto done;
  }
  float* p = packed_scratch(gemm_packed_floats(k, n));
  if (!p) {
    PyErr_NoMemory();
    goto done;
  }
  union xnn_f32_minmax_params params = {.scalar = {-INFINITY, INFINITY}};
  Py_BEGIN_ALLOW_THREADS
  for (size_t i = 0; i < batch; i++) {
    pack((const float*) bv->buf + i * k * n, k, n, p);
    const float* x = (const float*) av->buf + i * m * k;
    float* y = (float*) ov->buf + i * m * n;
    for (size_t r = 0; r < m; r += MR) {
      size_t rows = m - r < MR ? m - r : MR;
      (rows == 1 ? GEMM_1 : GEMM)(rows, n, k * 4, x + r * k, k * 4, p, y + r * n, n * 4, NR * 4, &params);
    }
  }
  Py_END_ALLOW_THREADS
  result = Py_NewRef(oo);
done:
  release(a, 3);
  return result;
}
