"""Ops that select, rearrange or make tensors without arithmetic on their values: Transpose,
Slice, Squeeze, Split, Expand, Tile, ConstantOfShape, Range, ScatterND, Cast, CastLike.

Exporters use most of them on shapes and masks computed from constants (they then fold at
plan time, Planner.emit), so the kernels keep integer and bool dtypes; float types all
become float32, the engine's one float type (a Cast to float16 computes on in float32).
Each works on the logical layout (Planner.plain), except Transpose, which reads an NHWC
value directly and Cast, which is element-wise."""

import numpy as np

from ..onnx_reader import DTYPES
from ..layout import LOGICAL_TO_STORED
from .registry import axis, broadcast, fail, lowering

_FLOAT_TYPES = (1, 10, 11, 16)  # float, float16, double, bfloat16: all computed in float32


def transpose(x, perm):
    return np.ascontiguousarray(x.transpose(perm))


def take(x, slices):
    # x[slices]: a view (Slice, each output of Split)
    return x[slices]


def squeeze(x, axes):
    return np.squeeze(x, axis=axes)


def expand(x, shape):
    # a contiguous copy: kernels downstream (XNNPACK's) may need one
    return np.ascontiguousarray(np.broadcast_to(x, np.broadcast_shapes(x.shape, tuple(int(d) for d in shape))))


def tile(x, repeats):
    return np.tile(x, tuple(int(r) for r in repeats))


def constant_of_shape(shape, value):
    return np.full(tuple(int(d) for d in shape), value)


def arange(start, limit, delta):
    # ONNX Range: max(ceil((limit - start) / delta), 0) values, in start's dtype
    start, limit, delta = (np.asarray(v).reshape(()) for v in (start, limit, delta))
    count = max(int(np.ceil((limit - start) / delta)), 0)
    return (start + delta * np.arange(count)).astype(start.dtype)


def scatter_nd(data, indices, updates, reduction):
    out = data.copy()
    index = tuple(np.moveaxis(indices, -1, 0))
    if reduction == "none":
        out[index] = updates
    else:
        reduction.at(out, index, updates)
    return out


def cast(x, dtype):
    return x.astype(dtype, copy=False)


def cast_like(x, like):
    return x.astype(like.dtype, copy=False)


def dtype_of(node, code):
    """numpy dtype the engine computes a TensorProto.DataType code in."""
    if code in _FLOAT_TYPES:
        return np.dtype(np.float32)
    if code not in DTYPES:
        raise fail(node, f"unsupported data type {code}")
    return np.dtype(DTYPES[code])


def onnx_slice(start, end, step, dim):
    """A Python slice taking what ONNX's Slice takes along an axis of size dim (None: unknown).
    They differ only where ONNX clamps: a negative-step start before the first element means
    the first element, and an end before it means 'through index 0'."""
    if dim is None:
        return slice(start, end, step)
    start, end = (v + dim if v < 0 else v for v in (start, end))
    if step > 0:
        return slice(min(max(start, 0), dim), min(max(end, 0), dim), step)
    start, end = min(max(start, 0), dim - 1), min(max(end, -1), dim - 1)
    return slice(start, None if end < 0 else end, step)


@lowering("Transpose")
def lower_transpose(p, node):
    """perm (default: reversed); reads an NHWC input as stored, and makes NHWC without a copy
    where perm is (0, 3, 1, 2) (ConvNeXt's channels-last blocks)."""
    x = p.input(node, 0)
    rank = len(x.shape)
    perm = [int(a) for a in node.attrs.get("perm", range(rank - 1, -1, -1))]
    if sorted(perm) != list(range(rank)):
        raise fail(node, f"perm {perm} is not a permutation of the {rank} axes")
    shape = [x.shape[a] for a in perm]
    if not x.nhwc and perm == [0, 3, 1, 2]:  # (N, H, W, C) to NCHW: that tensor, stored NHWC
        return p.emit(np.ascontiguousarray, [x], shape, nhwc=True)
    if not x.nhwc:
        return p.lower("transpose", x, tuple(perm))
    return p.emit(transpose, [x], shape, perm=tuple(LOGICAL_TO_STORED[a] for a in perm))


@lowering("Slice")
def lower_slice(p, node):
    """starts/ends/axes as attributes (< 10) or inputs with steps (>= 10); negative indices and steps,
    clamping, INT64_MAX ends. starts/ends/axes/steps must be constant."""
    x = p.plain(p.input(node, 0))
    rank = len(x.shape)
    if p.opset < 10:
        starts, ends, axes, steps = (node.attrs.get(k) for k in ("starts", "ends", "axes", "steps"))
    else:
        starts, ends, axes, steps = (
            p.const(node, i, name) for i, name in enumerate(("starts", "ends", "axes", "steps"), 1)
        )
    if starts is None or ends is None:
        raise fail(node, "no starts or ends")
    axes = range(len(starts)) if axes is None else axes
    steps = [1] * len(starts) if steps is None else steps
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise fail(node, "starts, ends, axes and steps differ in length")
    slices, shape = [slice(None)] * rank, list(x.shape)
    for a, start, end, step in zip(axes, starts, ends, steps):
        a = axis(node, int(a), rank)
        if int(step) == 0:
            raise fail(node, "a step is 0")
        slices[a] = onnx_slice(int(start), int(end), int(step), x.shape[a])
        shape[a] = None if x.shape[a] is None else len(range(*slices[a].indices(x.shape[a])))
    return p.emit(take, [x], shape, slices=tuple(slices))


@lowering("Squeeze")
def lower_squeeze(p, node):
    """axes attribute (< 13) or input (>= 13); without axes every dim of size 1."""
    x = p.plain(p.input(node, 0))
    rank = len(x.shape)
    axes = node.attrs.get("axes") if p.opset < 13 else p.const(node, 1, "axes")
    if axes is None:
        if None in x.shape:
            raise fail(node, f"input {x.shape} has an unknown dim: give axes")
        axes = [a for a, d in enumerate(x.shape) if d == 1]
    axes = sorted({axis(node, int(a), rank) for a in axes})
    if any(x.shape[a] not in (1, None) for a in axes):
        raise fail(node, f"cannot squeeze axes {axes} of {x.shape}")
    return p.emit(squeeze, [x], [d for a, d in enumerate(x.shape) if a not in axes], axes=tuple(axes))


@lowering("Split")
def lower_split(p, node):
    """split attribute (< 13) or input (>= 13), equal parts otherwise; num_outputs (>= 18, last part may be
    smaller). Several outputs."""
    x = p.plain(p.input(node, 0))
    k = axis(node, node.attrs.get("axis", 0), len(x.shape))
    dim, count = x.shape[k], len(node.outputs)
    sizes = node.attrs.get("split") if p.opset < 13 else p.const(node, 1, "split")
    if node.attrs.get("num_outputs", count) != count:
        raise fail(node, f"num_outputs {node.attrs['num_outputs']} but {count} outputs")
    if sizes is None:
        if dim is None:
            raise fail(node, f"axis {k} of {x.shape} is unknown: give split")
        # Equal parts; from opset 18 (num_outputs) the last may be smaller.
        if p.opset < 18 and dim % count:
            raise fail(node, f"axis {k} of {x.shape} does not split into {count} equal parts")
        chunk = -(-dim // count)
        sizes = [chunk] * (count - 1) + [dim - chunk * (count - 1)]
    sizes = [int(s) for s in sizes]
    if len(sizes) != count or min(sizes) < 0 or (dim is not None and sum(sizes) != dim):
        raise fail(node, f"cannot split axis {k} of {x.shape} into {sizes} for {count} outputs")
    outputs, begin = [], 0
    for s in sizes:
        slices = (slice(None),) * k + (slice(begin, begin + s),)
        outputs.append(p.emit(take, [x], x.shape[:k] + (s,) + x.shape[k + 1 :], slices=slices))
        begin += s
    return tuple(outputs)


@lowering("Expand")
def lower_expand(p, node):
    """Shape input constant or from run time (ONNX broadcasting)."""
    x, shape = p.plain(p.input(node, 0)), p.input(node, 1)
    if shape.const is None:
        out = (None,) * max(len(x.shape), shape.shape[0])
    else:
        out = broadcast(node, x.shape, tuple(int(d) for d in shape.const))
    return p.emit(expand, [x, shape], out)


@lowering("Tile")
def lower_tile(p, node):
    """repeats must be constant."""
    x = p.plain(p.input(node, 0))
    repeats = [int(r) for r in p.const(node, 1, "repeats")]
    if len(repeats) != len(x.shape) or min(repeats, default=0) < 0:
        raise fail(node, f"repeats {repeats} do not fit input {x.shape}")
    return p.emit(tile, [x], [None if d is None else d * r for d, r in zip(x.shape, repeats)], repeats=repeats)


@lowering("ConstantOfShape")
def lower_constant_of_shape(p, node):
    """value attribute of any type (default float 0)."""
    shape = p.plain(p.input(node, 0))
    value = node.attrs.get("value")
    value = np.zeros(1, np.float32) if value is None else value
    if value.size != 1:
        raise fail(node, f"value has {value.size} elements, not 1")
    value = value.reshape(()).astype(np.float32 if value.dtype.kind == "f" else value.dtype)
    out = (None,) * shape.shape[0] if shape.const is None else [int(d) for d in shape.const]
    return p.emit(constant_of_shape, [shape], out, value=value)


@lowering("Range")
def lower_range(p, node):
    """int or float start/limit/delta."""
    start, limit, delta = (p.plain(p.input(node, i)) for i in range(3))
    if delta.const is not None and not delta.const.all():
        raise fail(node, "delta is 0")
    return p.emit(arange, [start, limit, delta], (None,))


@lowering("ScatterND")
def lower_scatter_nd(p, node):
    """reduction none/add/mul/max/min (opset 16, 18); negative indices."""
    data, indices, updates = (p.plain(p.input(node, i)) for i in range(3))
    reduction = node.attrs.get("reduction", "none")
    ufuncs = {"none": "none", "add": np.add, "mul": np.multiply, "max": np.maximum, "min": np.minimum}
    if reduction not in ufuncs:
        raise fail(node, f"unknown reduction '{reduction}'")
    if len(indices.shape) < 1 or (indices.shape[-1] is not None and indices.shape[-1] > len(data.shape)):
        raise fail(node, f"indices {indices.shape} do not index data {data.shape}")
    if indices.const is not None and indices.const.size and None not in data.shape:
        bounds = np.array(data.shape[: indices.shape[-1]])
        if (indices.const >= bounds).any() or (indices.const < -bounds).any():
            raise fail(node, f"indices out of range for data {data.shape}")
    return p.emit(scatter_nd, [data, indices, updates], data.shape, reduction=ufuncs[reduction])


@lowering("Cast")
def lower_cast(p, node):
    """to any numeric type or bool; float16, double and bfloat16 compute as float32."""
    x = p.input(node, 0)
    return p.emit(cast, [x], x.shape, nhwc=x.nhwc, dtype=dtype_of(node, node.attrs.get("to")))


@lowering("CastLike")
def lower_cast_like(p, node):
    """like Cast, to the second input's type."""
    x, like = p.input(node, 0), p.input(node, 1)
    return p.emit(cast_like, [x, like], x.shape, nhwc=x.nhwc)
