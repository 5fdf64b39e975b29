"""Max and average pooling in numpy on NHWC values (ops.pool_spec.PoolSpec): the reference, and
the path natively. One shifted window per kernel tap over the input padded with the value that
cannot win (-inf for the max, 0 for the sum), as conv_numpy's depthwise taps."""

import numpy as np

from ..buffers import makes_new_arrays
from .conv_numpy import _window


def _padded(x, pads, overhang, value):
    top, left, bottom, right = pads
    bottom, right = bottom + overhang[0], right + overhang[1]
    if not any((top, left, bottom, right)):
        return x
    return np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=value)


@makes_new_arrays
def max_pool(x, kernel, strides, pads, dilations, overhang, out_hw):
    # x: (N, H, W, C) -> (N, Ho, Wo, C)
    xp = _padded(x, pads, overhang, -np.inf)
    y = None
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            window = _window(xp, i, j, out_hw, strides, dilations)
            y = window.copy() if y is None else np.maximum(y, window, out=y)
    return y


@makes_new_arrays
def avg_pool(x, kernel, strides, pads, dilations, overhang, out_hw, divisors):
    # x: (N, H, W, C), divisors: (Ho, Wo, 1) -> (N, Ho, Wo, C)
    xp = _padded(x, pads, overhang, 0)
    y = np.zeros((x.shape[0], *out_hw, x.shape[3]), np.float32)
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            y += _window(xp, i, j, out_hw, strides, dilations)
    return np.divide(y, divisors, out=y)
