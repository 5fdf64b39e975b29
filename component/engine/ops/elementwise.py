"""Element-wise ops. They work in whatever layout their input is stored in, so a run of
Conv/Clip/Add stays NHWC; only broadcast operands are rearranged (at plan time if constant)."""

import numpy as np

from ..buffers import makes_new_arrays
from .registry import broadcast, fail, lowering, scalar


@makes_new_arrays
def divide(a, b):
    # Integers (shape arithmetic) divide truncating toward zero, as ONNX's C++ kernels do.
    if a.dtype.kind in "iu":
        return np.sign(a) * np.sign(b) * (np.abs(a) // np.abs(b))
    return np.divide(a, b)


@makes_new_arrays
def power(a, b):
    # The result has the base's type even for an integer exponent (ONNX Pow from opset 12).
    return np.power(a, b).astype(a.dtype, copy=False)


_BINARY = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": divide, "Pow": power}


@makes_new_arrays
def clip(x, lo, hi):
    # x: any shape -> same shape
    return np.clip(x, lo, hi)


def activation_bounds(node, opset, const):
    """(lo, hi) of a Relu or Clip node; `const(i)` gives input i as an array, or None if omitted.
    Clip took its bounds as attributes up to opset 10 and as optional inputs from opset 11."""
    if node.op_type == "Relu":
        return (0.0, np.inf)
    if opset < 11:
        lo, hi = node.attrs.get("min"), node.attrs.get("max")
    else:
        lo, hi = const(1), const(2)
    return (-np.inf if lo is None else scalar(lo), np.inf if hi is None else scalar(hi))


@lowering("Relu", "Clip")
def lower_activation(p, node):
    """Clip: min/max as attributes (< 11) or optional inputs."""
    x = p.input(node, 0)
    lo, hi = activation_bounds(node, p.opset, lambda i: p.const(node, i, "bound"))
    return p.emit(clip, [x], x.shape, nhwc=x.nhwc, lo=lo, hi=hi)


@lowering(*_BINARY)
def lower_binary(p, node):
    """ONNX broadcasting; integer Div truncates; Pow keeps the base's type."""
    return emit_binary(p, node, node.op_type, p.input(node, 0), p.input(node, 1))


def emit_binary(p, node, op_type, a, b):
    """a <op> b with ONNX broadcasting (also the Add a Conv could not take into its epilogue)."""
    return emit_broadcast(p, node, _BINARY[op_type], [a, b])


def emit_broadcast(p, node, kernel, inputs, **params):
    """kernel(*inputs, **params) for an element-wise kernel whose inputs broadcast (ONNX rules)."""
    shape = broadcast(node, *(v.shape for v in inputs))
    # An NHWC operand keeps the result NHWC; the other operands are rearranged to match
    # (padded to rank 4, then transposed -- a constant bias (C, 1, 1) becomes (1, 1, 1, C)).
    nhwc = any(v.nhwc for v in inputs) and len(shape) == 4
    if kernel is np.multiply and nhwc and len(inputs) == 2:  # a per-(image, channel) gate: squeeze-and-excitation
        a, b = inputs
        for x, gate in ((a, b), (b, a)):
            if x.shape == shape and gate.const is None and gate.shape == (*shape[:2], 1, 1):
                return p.lower("channel_scale", x, gate)
    inputs = [p.nhwc(v) if nhwc else p.plain(v) for v in inputs]
    return p.emit(kernel, inputs, shape, nhwc=nhwc, **params)


def batchnorm_affine(node, const):
    """Inference-mode BatchNormalization as the per-channel affine map it is: float64 (scale,
    shift), each (C,), with y = x * scale + shift. `const(i)` gives input i as an array."""
    gamma, beta, mean, var = (np.asarray(const(i), np.float64) for i in range(1, 5))
    scale = gamma / np.sqrt(var + node.attrs.get("epsilon", 1e-5))
    return scale, beta - mean * scale


@lowering("BatchNormalization")
def lower_batchnorm(p, node):
    """A BatchNormalization that fuse.py could not fold into a Conv: its affine map as a step,
    with the Relu/Clip that fuse.py merged into it (node.fused.bounds)."""
    x = p.input(node, 0)
    scale, shift = batchnorm_affine(node, lambda i: p.const(node, i, "statistic"))
    if len(x.shape) < 2 or x.shape[1] != scale.size:
        raise fail(node, f"statistics of {scale.size} channels for an input of shape {x.shape}")
    bounds = node.fused.bounds if node.fused else None
    return p.lower("channel_affine", x, scale.astype(np.float32), shift.astype(np.float32), bounds)


@lowering("Identity", "Dropout")
def lower_identity(p, node):
    """Dropout at inference is the identity; neither needs a step."""
    return p.stored_input(node, 0)
