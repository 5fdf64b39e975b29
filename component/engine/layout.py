"""The one place that knows how a value is stored: ONNX activations are logically NCHW, but the
kernels want NHWC (channels innermost makes a 1x1 conv one GEMM over (pixels, channels) and a
depthwise tap one vectorised multiply-add), so the planner may keep a 4-D value as NHWC
(Value.nhwc, plan.py). Lowerings that index axes translate them here."""

import numpy as np

STORED_TO_LOGICAL = (0, 2, 3, 1)  # stored axis k of an NHWC value is logical axis STORED_TO_LOGICAL[k]
LOGICAL_TO_STORED = (0, 3, 1, 2)  # logical axis a of an NHWC value is stored at LOGICAL_TO_STORED[a]


def to_nhwc(x):
    """(N, C, H, W) -> contiguous (N, H, W, C); lower ranks are broadcast operands, made 4-D."""
    x = x.reshape((1,) * (4 - x.ndim) + x.shape)
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


def to_nchw(x):
    """(N, H, W, C) -> (N, C, H, W) view; consumers that need contiguity copy (heads are small)."""
    return x.transpose(0, 3, 1, 2)


def stored_axes(axes, nhwc):
    """Logical axes -> the axes of the stored array."""
    return tuple(LOGICAL_TO_STORED[a] for a in axes) if nhwc else tuple(axes)


def logical_shape(stored_shape, nhwc):
    """The logical (NCHW) shape of an array stored as `stored_shape`."""
    return tuple(stored_shape[a] for a in LOGICAL_TO_STORED) if nhwc else tuple(stored_shape)


def per_logical_axis(values, nhwc):
    """A per-axis list in logical order (pads, ...) -> the same in stored order."""
    return [values[a] for a in STORED_TO_LOGICAL] if nhwc else list(values)


def channel_vector(vector, rank, nhwc):
    """A (C,) vector shaped to broadcast along the channel axis of a value of `rank`."""
    return vector.reshape((-1,) if nhwc else (-1,) + (1,) * (rank - 2))
