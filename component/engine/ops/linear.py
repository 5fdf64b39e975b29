"""Gemm and MatMul. A product of an activation by constant weights with a per-column bias (a
classifier head, a transformer's projections) is a `dense` for the plan's backend (XNNPACK's
packs the weights for its GEMM, bias fused: with the 5 MB head of MobileNetV2 cold in memory it
took 0.88 ms where numpy's matmul + add took 1.21 ms with epoch interruption on). Other forms
emit transposes and the alpha/beta scalings as steps of their own (on constants they fold at
plan time) and numpy's matmul."""

import numpy as np

from ..buffers import makes_new_arrays
from .registry import broadcast, fail, lowering, size


def transpose(x):
    # x: (M, N) -> contiguous (N, M)
    return np.ascontiguousarray(x.T)


def scale(x, factor):
    return (x * factor).astype(x.dtype)


@makes_new_arrays
def matmul(a, b, c=None):
    # a: (..., M, K), b: (..., K, N), c: broadcastable to the result -> (..., M, N)
    if a.ndim > 2 and b.ndim == 2:  # one GEMM over all rows: numpy's batched loop is ~10x slower
        y = np.matmul(a.reshape(-1, a.shape[-1]), b).reshape(*a.shape[:-1], b.shape[-1])
    else:
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
    trans_a, trans_b = attrs.get("transA", 0), attrs.get("transB", 0)
    alpha, beta = attrs.get("alpha", 1.0), attrs.get("beta", 1.0)
    (m, k), (k2, n) = a.shape[::-1] if trans_a else a.shape, b.shape[::-1] if trans_b else b.shape
    if None not in (k, k2) and k != k2:
        raise fail(node, f"inner dims differ: {a.shape} x {b.shape}")
    if c is not None:
        c = p.plain(c)
        broadcast(node, c.shape, (m, n))  # C must broadcast to (M, N)
    bias = _per_column(c, n, beta)
    if not trans_a and b.const is not None and bias is not None:
        # The weights as the file lays them out, (N, K) or (K, N): the backend packs them.
        return p.lower("dense", a, b.const, bool(trans_b), alpha, bias, (m, n))
    if trans_a:
        a = p.emit(transpose, [a], a.shape[::-1])
    if trans_b:
        b = p.emit(transpose, [b], b.shape[::-1])
    if alpha != 1.0:
        b = p.emit(scale, [b], b.shape, factor=alpha)
    inputs = [a, b]
    if c is not None:
        if beta != 1.0:
            c = p.emit(scale, [c], c.shape, factor=beta)
        inputs.append(c)
    return p.emit(matmul, inputs, (m, n), **describe(a.shape, b.shape))


@lowering("MatMul")
def lower_matmul(p, node):
    a, b = p.plain(p.input(node, 0)), p.plain(p.input(node, 1))
    if len(a.shape) < 2 or len(b.shape) < 2:
        raise fail(node, f"1-D operands are not supported ({a.shape} x {b.shape})")
    if None not in (a.shape[-1], b.shape[-2]) and a.shape[-1] != b.shape[-2]:
        raise fail(node, f"inner dims differ: {a.shape} x {b.shape}")
    shape = broadcast(node, a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-1])
    if b.const is not None and len(b.shape) == 2:  # (..., K) x constant (K, N): a transformer's projections too
        return p.lower("dense", a, b.const, False, 1.0, np.zeros(b.shape[1], np.float32), shape)
    if b.const is None and a.const is None:  # two run-time operands (attention): the backend's
        return p.lower("matmul", a, b, shape)
    if b.const is not None:
        b = p.constant(np.ascontiguousarray(b.const))
    return p.emit(matmul, [a, b], shape, **describe(shape[:-1] + (a.shape[-1],), b.shape))


def _per_column(c, n, beta):
    """beta * Gemm's C as a float32 (N,) bias when it is a constant that only varies along N
    (or is absent), else None."""
    if c is None:
        return np.zeros(n, np.float32)
    if c.const is None or n is None or c.const.ndim > 2 or (c.const.ndim == 2 and c.const.shape[0] != 1):
        return None
    return np.ascontiguousarray(np.broadcast_to(c.const.reshape(-1) * np.float32(beta), (n,)), np.float32)


def describe(a_shape, b_shape, implementation="numpy", family="matmul"):
    """label and FLOPs per batch item (the first dim) of a (..., M, K) x (K, N) product."""
    k, n = a_shape[-1], b_shape[-1]
    rows = size(a_shape[1:-1])  # the rows of one batch item (1 for a 2-D product)
    flops = None if None in (rows, k, n) else 2 * rows * k * n
    return {"label": f"{family}[{implementation}] {k}->{n}", "flops": flops}


def batched_matmul_flops(a_shape, shape):
    """FLOPs per batch item (the first dim) of a batched product giving `shape` from a (..., M, K) operand."""
    dims = (*shape[1:], a_shape[-1])
    return None if None in dims or len(shape) < 3 else 2 * int(np.prod(dims))
