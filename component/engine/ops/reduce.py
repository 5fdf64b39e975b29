"""Averages, Softmax and LogSoftmax."""

import numpy as np

from ..buffers import makes_new_arrays
from ..layout import stored_axes
from .registry import axis, fail, lowering


@makes_new_arrays
def mean(x, axes, keepdims):
    # x: any -> x with `axes` averaged (kept as size 1 if keepdims)
    return x.mean(axis=axes, keepdims=keepdims)


@makes_new_arrays
def softmax(x, axes):
    # x: any -> same shape; normalised over `axes` together
    e = np.exp(x - x.max(axis=axes, keepdims=True))
    return e / e.sum(axis=axes, keepdims=True)


@makes_new_arrays
def log_softmax(x, axes):
    shifted = x - x.max(axis=axes, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axes, keepdims=True))


@lowering("GlobalAveragePool")
def lower_global_average_pool(p, node):
    x = p.input(node, 0)  # (N, C, *spatial)
    if len(x.shape) < 3:
        raise fail(node, f"input {x.shape} has no spatial axes")
    shape = x.shape[:2] + (1,) * (len(x.shape) - 2)
    if x.nhwc:
        return p.lower("mean_hw", x, shape)
    return p.emit(mean, [x], shape, axes=tuple(range(2, len(x.shape))), keepdims=True)


@lowering("ReduceMean")
def lower_reduce_mean(p, node):
    x = p.input(node, 0)
    rank = len(x.shape)
    # Axes: an attribute up to opset 17, an optional input from 18 (where "none" may mean "no-op").
    axes = node.attrs.get("axes") if p.opset < 18 else p.const(node, 1, "axes")
    if axes is None or len(axes) == 0:
        if p.opset >= 18 and node.attrs.get("noop_with_empty_axes", 0):
            return x
        axes = range(rank)
    axes = sorted({axis(node, int(a), rank) for a in axes})
    keepdims = bool(node.attrs.get("keepdims", 1))
    shape = tuple(1 if a in axes else d for a, d in enumerate(x.shape) if keepdims or a not in axes)
    if keepdims and x.nhwc:  # reduce the stored tensor directly; it stays NHWC
        if axes == [2, 3]:
            return p.lower("mean_hw", x, shape)
        return p.emit(mean, [x], shape, nhwc=True, axes=stored_axes(axes, True), keepdims=True)
    return p.emit(mean, [p.plain(x)], shape, axes=tuple(axes), keepdims=keepdims)


@lowering("Softmax", "LogSoftmax")
def lower_softmax(p, node):
    x = p.plain(p.input(node, 0))
    rank = len(x.shape)
    # Before opset 13, Softmax flattened the input to 2-D at `axis` (default 1) and normalised
    # each row, i.e. over all axes from `axis` on; from 13 it normalises over `axis` (default -1).
    if p.opset < 13:
        axes = tuple(range(axis(node, node.attrs.get("axis", 1), rank), rank))
    else:
        axes = (axis(node, node.attrs.get("axis", -1), rank),)
    if node.op_type == "Softmax" and axes == (rank - 1,):  # attention's: the backend's
        return p.lower("softmax", x)
    return p.emit(softmax if node.op_type == "Softmax" else log_softmax, [x], x.shape, axes=axes)
