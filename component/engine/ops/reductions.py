"""ReduceSum/Max/Min/Prod/L2 and ArgMax (ReduceMean, with its XNNPACK path, is in reduce.py).
They keep integer dtypes (ReduceProd of a shape folds at plan time). With keepdims, an NHWC
input is reduced as stored and stays NHWC."""

import numpy as np

from ..layout import LOGICAL_TO_STORED
from .registry import axis, lowering


def l2(x, axis, keepdims):
    return np.sqrt(np.sum(x * x, axis=axis, keepdims=keepdims))


_REDUCE = {"ReduceSum": np.sum, "ReduceMax": np.max, "ReduceMin": np.min, "ReduceProd": np.prod, "ReduceL2": l2}
_AXES_INPUT_FROM = {"ReduceSum": 13}  # opset from which axes is an input (the others: 18)


def reduction(x, how, axes, keepdims):
    return how(x, axis=axes, keepdims=keepdims)


def argmax(x, axis, keepdims, last):
    # indices as int64 (numpy's are intp: int32 inside the component)
    if last:
        x = np.flip(x, axis)
    index = np.argmax(x, axis=axis, keepdims=keepdims)
    return (x.shape[axis] - 1 - index if last else index).astype(np.int64)


@lowering(*_REDUCE)
def lower_reduce(p, node):
    """axes as attribute (ReduceSum < 13, others < 18) or input, keepdims, noop_with_empty_axes."""
    x = p.input(node, 0)
    rank = len(x.shape)
    if p.opset < _AXES_INPUT_FROM.get(node.op_type, 18):
        axes = node.attrs.get("axes")
    else:
        axes = p.const(node, 1, "axes")
        if (axes is None or len(axes) == 0) and node.attrs.get("noop_with_empty_axes", 0):
            return x
    axes = range(rank) if axes is None or len(axes) == 0 else axes
    axes = sorted({axis(node, int(a), rank) for a in axes})
    keepdims = bool(node.attrs.get("keepdims", 1))
    shape = tuple(1 if a in axes else d for a, d in enumerate(x.shape) if keepdims or a not in axes)
    how = _REDUCE[node.op_type]
    if keepdims and x.nhwc:
        return p.emit(
            reduction, [x], shape, nhwc=True, how=how, axes=tuple(LOGICAL_TO_STORED[a] for a in axes), keepdims=True
        )
    return p.emit(reduction, [p.plain(x)], shape, how=how, axes=tuple(axes), keepdims=keepdims)


@lowering("ArgMax")
def lower_argmax(p, node):
    """axis, keepdims, select_last_index; int64 out."""
    x = p.plain(p.input(node, 0))
    k = axis(node, node.attrs.get("axis", 0), len(x.shape))
    keepdims = bool(node.attrs.get("keepdims", 1))
    shape = tuple(1 if a == k else d for a, d in enumerate(x.shape) if keepdims or a != k)
    return p.emit(argmax, [x], shape, axis=k, keepdims=keepdims, last=bool(node.attrs.get("select_last_index", 0)))
