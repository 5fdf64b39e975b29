/* Transposes of up to 6 axes (a transformer's head split and merge, K^T, window shuffles): the
 * output written in order, its last axis as the inner loop -- a row copy when that axis is also
 * the input's last (memcpy), else a strided gather. numpy's own strided copy is what it
 * replaces: its loops do not vectorise inside wasm. */
#include "xnn_kernels.h"

#define MAX_RANK 6

/* transpose(x, out, perm) -> out: out = x.transpose(perm), both C-contiguous. */
PyObject* transpose(PyObject* self, PyObject* args) {
  PyObject *xo, *oo, *po, *result = NULL;
  arg a[2] = {{0}};
  if (!PyArg_ParseTuple(args, "OOO!", &xo, &oo, &PyTuple_Type, &po) || get_f32(xo, &a[0], 0, "x") < 0
      || get_f32(oo, &a[1], 1, "out") < 0)
    goto done;
  const Py_buffer *x = &a[0].view, *o = &a[1].view;
  size_t rank = x->ndim, perm[MAX_RANK], in_stride[MAX_RANK], stride[MAX_RANK], dims[MAX_RANK], seen = 0;
  int ok = rank >= 1 && rank <= MAX_RANK && (size_t) o->ndim == rank && (size_t) PyTuple_GET_SIZE(po) == rank
           && x->len == o->len;
  for (size_t i = 0; ok && i < rank; i++) {
    long p = PyLong_AsLong(PyTuple_GET_ITEM(po, i));
    ok = p >= 0 && (size_t) p < rank && !(seen & (1u << p)) && o->shape[i] == x->shape[p];
    if (ok) seen |= 1u << p, perm[i] = p, dims[i] = o->shape[i];
  }
  if (!ok) {
    PyErr_Clear();
    mismatch("transpose(x, out (x's dims permuted), perm)");
    goto done;
  }
  in_stride[rank - 1] = 1;
  for (size_t i = rank - 1; i > 0; i--) in_stride[i - 1] = in_stride[i] * x->shape[i];
  for (size_t i = 0; i < rank; i++) stride[i] = in_stride[perm[i]];  /* input step per output axis */
  size_t inner = dims[rank - 1], step = stride[rank - 1], rows = inner ? o->len / 4 / inner : 0;
  Py_BEGIN_ALLOW_THREADS
  const float* src = x->buf;
  float* dst = o->buf;
  size_t index[MAX_RANK] = {0}, start = 0;  /* the output row's outer indices, its input offset */
  for (size_t r = 0; r < rows; r++, dst += inner) {
    if (step == 1) memcpy(dst, src + start, inner * 4);
    else for (size_t j = 0; j < inner; j++) dst[j] = src[start + j * step];
    for (size_t i = rank - 1; i-- > 0;) {  /* the next row: an odometer over the outer axes */
      start += stride[i];
      if (++index[i] < dims[i]) break;
      start -= stride[i] * dims[i];
      index[i] = 0;
    }
  }
  Py_END_ALLOW_THREADS
  result = Py_NewRef(oo);
done:
  release(a, 2);
  return result;
}
