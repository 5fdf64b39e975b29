/* Arguments: C-contiguous buffers in through the buffer protocol, checked; bytes out. */
#include "xnn_kernels.h"

void release(arg* args, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (args[i].held) PyBuffer_Release(&args[i].view);
}

/* A C-contiguous buffer of float32 ("f") or float64 ("d") values, writable if asked. numpy
 * describes an unaligned one (a view of a model file's bytes) as "=f" or "<f"; wasm is
 * little-endian and its loads need no alignment. */
int get_typed(PyObject* obj, arg* a, int writable, const char* what, char type, Py_ssize_t size) {
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

int get_f32(PyObject* obj, arg* a, int writable, const char* what) {
  return get_typed(obj, a, writable, what, 'f', 4);
}

/* A bytes object made by this module (packed weights, a geometry). */
int get_bytes(PyObject* obj, arg* a, const char* what) {
  if (!PyBytes_Check(obj)) {
    PyErr_Format(PyExc_TypeError, "%s must be the bytes this module made", what);
    return -1;
  }
  if (PyObject_GetBuffer(obj, &a->view, PyBUF_SIMPLE) < 0) return -1;
  a->held = 1;
  return 0;
}

PyObject* mismatch(const char* what) {
  PyErr_Format(PyExc_ValueError, "%s: the shapes of the arguments disagree", what);
  return NULL;
}

PyObject* new_bytes(size_t size, float** data) {
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
