"""Gemm and MatMul. Transposes and the alpha/beta scalings are emitted as steps of their own:
on constant weights they fold at plan time into one C-contiguous (K, N) matrix, which is what
numpy's no-BLAS matmul in the component needs to take its vectorised path."""
import numpy as np

from .registry import broadcast, fail, lowering, size


def transpose(x):
    # x: (M, N) -> contiguous (N, M)
    return np.ascontiguousarray(x.T)


def scale(x, factor):
    return (x * factor).astype(x.dtype)


def matmul(a, b, c=None):
    # a: (..., M, K), b: (..., K, N), c: broadcastable to the result -> (..., M, N)
    y = np.matmul(a, b)
    if c is not None:
        y += c  # y is fresh, so adding in place is safe
    return y


@lowering("Gemm")
def lower_gemm(p, node):
    a, b, c = (p.input(node, i) for i in range(3))
    a, b = p.plain(a), p.plain(b)
    if len(a.shape) != 2 or len(b.shape) != 2:
        raise fail(node, f"operands must be 2-D, got {a.shape} and {b.shape}")
    attrs = node.attrs
    if attrs.get("transA", 0):
        a = p.emit(transpose, [a], a.shape[::-1])
    if attrs.get("transB", 0):
        b = p.emit(transpose, [b], b.shape[::-1])
    if attrs.get("alpha", 1.0) != 1.0:
        b = p.emit(scale, [b], b.shape, factor=attrs["alpha"])
    (m, k), (k2, n) = a.shape, b.shape
    if None not in (k, k2) and k != k2:
        raise fail(node, f"inner dims differ: {a.shape} x {b.shape}")
    inputs = [a, b]
    if c is not None:
        c = p.plain(c)
        broadcast(node, c.shape, (m, n))  # C must broadcast to (M, N)
        if attrs.get("beta", 1.0) != 1.0:
            c = p.emit(scale, [c], c.shape, factor=attrs["beta"])
        inputs.append(c)
    return p.emit(matmul, inputs, (m, n), **_describe(a.shape, b.shape))


@lowering("MatMul")
def lower_matmul(p, node):
    a, b = p.plain(p.input(node, 0)), p.plain(p.input(node, 1))
    if len(a.shape) < 2 or len(b.shape) < 2:
        raise fail(node, f"1-D operands are not supported ({a.shape} x {b.shape})")
    if None not in (a.shape[-1], b.shape[-2]) and a.shape[-1] != b.shape[-2]:
        raise fail(node, f"inner dims differ: {a.shape} x {b.shape}")
    if b.const is not None:
        b = p.constant(np.ascontiguousarray(b.const))
    shape = broadcast(node, a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-1])
    return p.emit(matmul, [a, b], shape, **_describe(shape[:-1] + (a.shape[-1],), b.shape))


def _describe(a_shape, b_shape):
    """label and FLOPs per batch item (the first dim) of a (..., M, K) x (K, N) product."""
    k, n = a_shape[-1], b_shape[-1]
    rows = size(a_shape[1:-1])  # the rows of one batch item (1 for a 2-D product)
    flops = None if None in (rows, k, n) else 2 * rows * k * n
    return {"label": f"matmul[numpy] {k}->{n}", "flops": flops}
