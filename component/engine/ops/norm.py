"""LayerNormalization (opset 17; exporters for older opsets write it as ReduceMean, Sub, Pow,
Sqrt and Div, which run as those ops). Only output 0 (Y) is made."""

import numpy as np

from ..buffers import makes_new_arrays
from .registry import axis, fail, lowering


@makes_new_arrays
def layer_norm(x, scale, bias=None, *, axes, epsilon):
    # x: any; scale, bias: broadcastable to x's normalised axes -> x's shape, float32 throughout
    centered = x - x.mean(axis=axes, keepdims=True)
    y = centered / np.sqrt((centered * centered).mean(axis=axes, keepdims=True) + epsilon)
    y *= scale
    if bias is not None:
        y += bias
    return y


@lowering("LayerNormalization")
def lower_layer_norm(p, node):
    """Opset 17: axis (normalises axis..last), epsilon, optional bias; output Y only. Over the
    last axis with constant scale and bias (transformers' form): the backend's."""
    x = p.plain(p.input(node, 0))
    rank = len(x.shape)
    first = axis(node, node.attrs.get("axis", -1), rank)
    if any(name for name in node.outputs[1:]):
        raise fail(node, "only output 0 (Y) is supported, not Mean or InvStdDev")
    params = [p.plain(p.input(node, i)) for i in (1, 2) if p.input(node, i) is not None]
    epsilon = np.float32(node.attrs.get("epsilon", 1e-5))
    width = x.shape[-1]
    if (
        first == rank - 1
        and width is not None
        and all(v.const is not None and v.const.size in (1, width) for v in params)
    ):
        vectors = [np.ascontiguousarray(np.broadcast_to(v.const.reshape(-1), (width,)), np.float32) for v in params]
        return p.lower("layer_norm", x, vectors[0], vectors[1] if len(vectors) > 1 else None, epsilon)
    return p.emit(layer_norm, [x, *params], x.shape, axes=tuple(range(first, rank)), epsilon=epsilon)
