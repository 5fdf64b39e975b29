"""Element-wise ops. They work in whatever layout their input is stored in, so a run of
Conv/Clip/Add stays NHWC; only broadcast operands are rearranged (at plan time if constant)."""
import numpy as np

from ..layout import channel_vector
from .registry import broadcast, lowering, scalar

_BINARY = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}


def clip(x, lo, hi):
    # x: any shape -> same shape
    return np.clip(x, lo, hi)


def affine(x, scale, shift):
    # x: (..., C, ...) with scale/shift shaped to broadcast along its channel axis
    return x * scale + shift


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
    x = p.input(node, 0)
    lo, hi = activation_bounds(node, p.opset, lambda i: p.const(node, i, "bound"))
    return p.emit(clip, [x], x.shape, nhwc=x.nhwc, lo=lo, hi=hi)


@lowering(*_BINARY)
def lower_binary(p, node):
    return emit_binary(p, node, node.op_type, p.input(node, 0), p.input(node, 1))


def emit_binary(p, node, op_type, a, b, kernel=None, **params):
    """a <op> b with ONNX broadcasting (also the Add a Conv could not take into its epilogue);
    kernel(a, b, **params) in place of op_type's numpy function (quantized ops: ops/quant.py)."""
    shape = broadcast(node, a.shape, b.shape)
    # An NHWC operand keeps the result NHWC; the other operand is rearranged to match
    # (padded to rank 4, then transposed -- a constant bias (C, 1, 1) becomes (1, 1, 1, C)).
    nhwc = (a.nhwc or b.nhwc) and len(shape) == 4
    a, b = (p.nhwc(a), p.nhwc(b)) if nhwc else (p.plain(a), p.plain(b))
    return p.emit(kernel or _BINARY[op_type], [a, b], shape, nhwc=nhwc, **params)


def batchnorm_affine(node, const):
    """Inference-mode BatchNormalization as the per-channel affine map it is: float64 (scale,
    shift), each (C,), with y = x * scale + shift. `const(i)` gives input i as an array."""
    gamma, beta, mean, var = (np.asarray(const(i), np.float64) for i in range(1, 5))
    scale = gamma / np.sqrt(var + node.attrs.get("epsilon", 1e-5))
    return scale, beta - mean * scale


@lowering("BatchNormalization")
def lower_batchnorm(p, node):
    """A BatchNormalization that fuse.py could not fold into a Conv: its affine map as a step."""
    x = p.input(node, 0)
    scale, shift = batchnorm_affine(node, lambda i: p.const(node, i, "statistic"))
    rank = len(x.shape)
    return p.emit(affine, [x], x.shape, nhwc=x.nhwc,
                  scale=channel_vector(scale.astype(np.float32), rank, x.nhwc),
                  shift=channel_vector(shift.astype(np.float32), rank, x.nhwc))


@lowering("Identity", "Dropout")
def lower_identity(p, node):
    """Dropout at inference is the identity; neither needs a step."""
    return p.input(node, 0)
