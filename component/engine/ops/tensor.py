"""Ops that move data without arithmetic. In torch exports Shape/Gather/Unsqueeze/Concat
only compute a Reshape target; with a static input shape they all fold away at plan time
(see Planner.emit), with a symbolic batch they run, on tiny int64 vectors."""

import numpy as np

from ..buffers import makes_new_arrays
from ..layout import per_logical_axis
from .registry import axis, fail, lowering, scalar, size


def reshape(x, shape, allowzero):
    # x: any, shape: int64 (k,) with ONNX's 0 ("copy this dim") and -1 ("infer") -> k dims
    if not allowzero:
        shape = [x.shape[i] if d == 0 else d for i, d in enumerate(shape)]
    return x.reshape(tuple(int(d) for d in shape))


def flatten(x, axis):
    # x: (d0, ..., dn) -> (d0*...*d[axis-1], d[axis]*...*dn)
    return x.reshape(int(np.prod(x.shape[:axis])), int(np.prod(x.shape[axis:])))


def shape_of(x, start, end):
    return np.array(x.shape[start:end], np.int64)


def gather(data, indices, axis):
    # data: (..., D, ...), indices: any int -> data.shape[:axis] + indices.shape + data.shape[axis+1:]
    return np.take(data, indices, axis=axis)


def unsqueeze(x, axes):
    return np.expand_dims(x, axes)


@makes_new_arrays
def concat(*xs, axis):
    return np.concatenate(xs, axis=axis)


def pad(x, pads, value):
    # x: (d0, ..., dn), pads: ((begin0, end0), ...) -> (d0+begin0+end0, ...)
    return np.pad(x, pads, constant_values=value)


def constant_value(node):
    """The tensor a Constant node holds, whichever of its attribute forms it uses."""
    attrs = node.attrs
    if "value" in attrs:
        return attrs["value"]
    for name, dtype in (
        ("value_float", np.float32),
        ("value_floats", np.float32),
        ("value_int", np.int64),
        ("value_ints", np.int64),
    ):
        if name in attrs:
            return np.array(attrs[name], dtype)
    raise fail(node, f"unsupported attribute(s) {sorted(attrs)}")


def pad_spec(node, opset, rank, const):
    """((begin, end) per axis, fill value) of a Pad node, in logical axis order.
    Up to opset 10 pads/value are attributes; from 11 they are inputs (and from 18 an optional
    `axes` input says which axes the pads are for). `const(i)` gives input i or None."""
    mode = node.attrs.get("mode", "constant")
    if mode != "constant":
        raise fail(node, f"mode '{mode}' is not supported (only 'constant')")
    if opset < 11:
        pads, value, axes = node.attrs.get("pads"), node.attrs.get("value", 0.0), None
    else:
        pads, value, axes = const(1), const(2), const(3)
    axes = range(rank) if axes is None else [axis(node, int(a), rank) for a in axes]
    pads = [int(v) for v in (() if pads is None else pads)]
    if len(pads) != 2 * len(axes) or min(pads, default=0) < 0:
        raise fail(node, f"pads {pads} are not 2 non-negative values for each of axes {list(axes)}")
    per_axis = [(0, 0)] * rank
    for k, a in enumerate(axes):
        per_axis[a] = (pads[k], pads[k + len(axes)])
    return per_axis, 0.0 if value is None else scalar(value)


@lowering("Constant")
def lower_constant(p, node):
    """value, value_float(s), value_int(s); float types become float32."""
    value = constant_value(node)
    # float16/float64 constants become float32, like initializers (Planner.value)
    return p.constant(value.astype(np.float32) if value.dtype.kind == "f" else value)


@lowering("Pad")
def lower_pad(p, node):
    """constant mode; pads/value as attributes (< 11) or inputs, axes input (18)."""
    x = p.input(node, 0)
    pads, value = pad_spec(node, p.opset, len(x.shape), lambda i: p.const(node, i))
    shape = tuple(None if d is None else d + b + e for d, (b, e) in zip(x.shape, pads))
    return p.emit(pad, [x], shape, nhwc=x.nhwc, pads=tuple(per_logical_axis(pads, x.nhwc)), value=value)


@lowering("Flatten")
def lower_flatten(p, node):
    """axis (negative too)."""
    x = p.plain(p.stored_input(node, 0))
    k = node.attrs.get("axis", 1)
    k = k + len(x.shape) if k < 0 else k  # axis == rank is allowed: (prod, 1)
    if not 0 <= k <= len(x.shape):
        raise fail(node, f"axis {node.attrs['axis']} out of range for rank {len(x.shape)}")
    return p.carried(x, p.emit(flatten, [x], (size(x.shape[:k]), size(x.shape[k:])), axis=k))


@lowering("Reshape")
def lower_reshape(p, node):
    """allowzero, 0 and -1 in the shape; the shape may come from run time."""
    x, target = p.plain(p.stored_input(node, 0)), p.input(node, 1)
    allowzero = node.attrs.get("allowzero", 0)
    if target.const is None:  # computed at run time (symbolic batch): only its length is known
        return p.carried(x, p.emit(reshape, [x, target], (None,) * target.shape[0], allowzero=allowzero))
    dims = [x.shape[i] if d == 0 and not allowzero else int(d) for i, d in enumerate(target.const)]
    if dims.count(-1) > 1:
        raise fail(node, f"shape {target.const.tolist()} has more than one -1")
    if -1 in dims:
        # Dims copied by 0 cancel out, so [0, -1] on (None, 1000, 1, 1) still infers 1000.
        copied = {i for i, d in enumerate(target.const) if d == 0 and not allowzero}
        known = size([d for i, d in enumerate(dims) if d != -1 and i not in copied])
        total = size([d for i, d in enumerate(x.shape) if i not in copied])
        if None not in (known, total) and (known == 0 or total % known):
            raise fail(node, f"cannot reshape {x.shape} to {target.const.tolist()}")
        inferred = None if None in (known, total) else total // known
        dims[dims.index(-1)] = inferred
    elif None not in dims and None not in x.shape and size(dims) != size(x.shape):
        raise fail(node, f"cannot reshape {x.shape} to {target.const.tolist()}")
    return p.carried(x, p.emit(reshape, [x, target], dims, allowzero=allowzero))


@lowering("Shape")
def lower_shape(p, node):
    """start, end (opset 15)."""
    x = p.input(node, 0)
    rank = len(x.shape)
    start, end = node.attrs.get("start", 0), node.attrs.get("end", rank)
    start, end = (max(0, min(rank, v + rank if v < 0 else v)) for v in (start, end))
    if None not in x.shape[start:end]:
        return p.constant(np.array(x.shape[start:end], np.int64))
    return p.emit(shape_of, [p.plain(x)], (max(end - start, 0),), start=start, end=end)


@lowering("Gather")
def lower_gather(p, node):
    """axis; int indices, negative too."""
    data, indices = p.plain(p.input(node, 0)), p.plain(p.input(node, 1))
    k = axis(node, node.attrs.get("axis", 0), len(data.shape))
    shape = data.shape[:k] + indices.shape + data.shape[k + 1 :]
    return p.emit(gather, [data, indices], shape, axis=k)


@lowering("Unsqueeze")
def lower_unsqueeze(p, node):
    """axes attribute (< 13) or input (>= 13)."""
    x = p.plain(p.input(node, 0))
    axes = node.attrs.get("axes") if p.opset < 13 else p.const(node, 1, "axes")
    if axes is None:
        raise fail(node, "no axes")
    rank = len(x.shape) + len(axes)
    axes = sorted(axis(node, int(a), rank) for a in axes)
    shape = list(x.shape)
    for a in axes:
        shape.insert(a, 1)
    return p.emit(unsqueeze, [x], shape, axes=tuple(axes))


@lowering("Concat")
def lower_concat(p, node):
    """axis; any number of inputs."""
    xs = [p.plain(p.input(node, i)) for i in range(len(node.inputs))]
    rank = len(xs[0].shape)
    k = axis(node, node.attrs.get("axis", 0), rank)
    if any(len(x.shape) != rank for x in xs):
        raise fail(node, f"inputs of different ranks {[x.shape for x in xs]}")
    shape = list(xs[0].shape)
    sizes = [x.shape[k] for x in xs]
    shape[k] = None if None in sizes else sum(sizes)
    return p.emit(concat, xs, shape, axis=k)
