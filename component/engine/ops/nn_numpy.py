"""numpy kernels behind the backend methods unary, channel_affine, softmax, layer_norm, matmul and transpose
(backends/numpy_backend.py): the reference the XNNPACK kernels are tested against, and the
path natively. Written for clarity; float32 in, float32 out."""
import numpy as np

_SQRT1_2 = 0.7071067811865476


def _erf(x):
    """erf, vectorised (numpy has none; math.erf is a Python call per element): Numerical
    Recipes' Chebyshev fit of erfc, fractional error < 1.2e-7 everywhere, in float64."""
    x = np.asarray(x, np.float64)
    t = 1.0 / (1.0 + 0.5 * np.abs(x))
    poly = -x * x - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
        -0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))))
    erfc = t * np.exp(poly)
    return np.where(x >= 0, 1.0 - erfc, erfc - 1.0)


def sigmoid(x):
    # x: any -> same shape
    return (1.0 / (1.0 + np.exp(-x.astype(np.float64)))).astype(np.float32)


UNARY = {
    "sigmoid": sigmoid,
    "silu": lambda x: (x * sigmoid(x)).astype(np.float32),
    "tanh": lambda x: np.tanh(x).astype(np.float32),
    "gelu": lambda x: (0.5 * x * (1.0 + _erf(x * _SQRT1_2))).astype(np.float32),
    "hardswish": lambda x: (x * np.clip(x + 3.0, 0.0, 6.0) / 6.0).astype(np.float32),
}


def unary(x, op, alpha=None, beta=None):
    # x: any -> same shape; hardsigmoid: max(0, min(1, alpha * x + beta))
    if op == "hardsigmoid":
        return np.clip(x * np.float32(alpha) + np.float32(beta), 0, 1).astype(np.float32)
    return UNARY[op](x)


def affine(x, scale, shift, lo, hi):
    # x: (..., C, ...) with scale/shift shaped to broadcast along its channel axis -> same shape
    y = x * scale + shift
    return y if lo == -np.inf and hi == np.inf else np.clip(y, lo, hi, out=y)


def softmax_last(x):
    # x: (..., D) -> same shape, normalised along the last axis
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def layer_norm_last(x, scale, bias, epsilon):
    # x: (..., D), scale/bias: (D,) or None -> same shape; statistics in float64
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=-1, keepdims=True)
    var = ((x64 - mean) ** 2).mean(axis=-1, keepdims=True)
    y = (x64 - mean) / np.sqrt(var + epsilon)
    if scale is not None:
        y = y * scale
    if bias is not None:
        y = y + bias
    return y.astype(np.float32)


def batched_matmul(a, b):
    # a: (..., M, K), b: (..., K, N), leading dims broadcast -> (..., M, N)
    return np.matmul(a, b)


def batched_matmul_flops(a_shape, shape):
    """FLOPs per batch item (the first dim) of a batched product giving `shape` from a (..., M, K) operand."""
    dims = (*shape[1:], a_shape[-1])
    return None if None in dims or len(shape) < 3 else 2 * int(np.prod(dims))


def transpose(x, perm):
    # x: any -> contiguous x.transpose(perm)
    return np.ascontiguousarray(x.transpose(perm))
