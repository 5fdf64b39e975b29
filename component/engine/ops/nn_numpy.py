"""numpy kernels behind the backend methods unary and channel_affine (backends/numpy_backend.py;
softmax, layer_norm, matmul and transpose use the kernels of their ops): the reference the
XNNPACK kernels are tested against, and the path natively."""

import numpy as np

from ..buffers import makes_new_arrays
from .unary import gelu, hard_sigmoid, hard_swish, sigmoid

# The backend's unary ops, by name: ops/unary.py's kernels (the ONNX ops of the same names).
UNARY = {
    "sigmoid": sigmoid,
    "silu": lambda x: x * sigmoid(x),
    "tanh": np.tanh,
    "gelu": gelu,
    "hardswish": hard_swish,
    "hardsigmoid": hard_sigmoid,
}


@makes_new_arrays
def unary(x, op, params):
    # x: any -> same shape; params: hardsigmoid's alpha, beta, else ()
    return UNARY[op](x, *params)


@makes_new_arrays
def affine(x, scale, shift, lo, hi):
    # x: (..., C, ...) with scale/shift shaped to broadcast along its channel axis -> same shape
    y = x * scale + shift
    return y if lo == -np.inf and hi == np.inf else np.clip(y, lo, hi, out=y)
