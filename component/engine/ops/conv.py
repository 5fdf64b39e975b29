"""Conv (2-D) on NHWC activations: the checks, the padding, a folded BatchNormalization, and
which kind of conv a node is, decided once here (ConvSpec.kind); the plan's backend decides how
(backends/: XNNPACK's inside the component, numpy's natively and as the fallback):

    conv1x1   pointwise: 1x1, stride 1, no pad, one group
    dwconv    depthwise: groups == Cin == Cout
    conv      anything else (the stem, grouped, strided 1x1, kxk)

What fuse.py merged into a Conv is typed plan data on the node (`node.fused`, an Epilogue),
never one of the file's attributes: a model whose Conv carries an attribute named like an
engine internal gets the plain ONNX Conv.
"""

from dataclasses import dataclass
from math import ceil

import numpy as np

from . import conv_numpy
from .elementwise import emit_binary
from .registry import fail, lowering


@dataclass(frozen=True)
class Epilogue:
    """What follows the convolution itself, fused by fuse.py, applied in this order."""

    scale_shift: tuple | None = None  # (scale, shift), float64 (Cout,): a folded BatchNormalization
    bounds: tuple | None = None  # (lo, hi): a following Relu/Clip
    activation: str | None = None  # a following unary (backends: unary's op names): HardSwish,
    # SiLU (x * Sigmoid(x)), Sigmoid
    residual: bool = False  # an Add of the conv's output and the node's input 3


def conv_pads(node, in_hw, kernel, strides, dilations):
    """The node's padding as explicit (top, left, bottom, right), resolving auto_pad."""
    auto_pad = node.attrs.get("auto_pad", "NOTSET")
    if auto_pad == "NOTSET":
        pads = tuple(node.attrs.get("pads", (0, 0, 0, 0)))  # ONNX order: begins, then ends
        if len(pads) != 4 or min(pads) < 0:
            raise fail(node, f"pads {list(pads)} are not 4 non-negative values")
        return pads
    if auto_pad == "VALID":
        return (0, 0, 0, 0)
    if auto_pad not in ("SAME_UPPER", "SAME_LOWER"):
        raise fail(node, f"unknown auto_pad '{auto_pad}'")
    # SAME: output = ceil(input / stride); the odd pixel of padding goes at the end (UPPER)
    # or at the beginning (LOWER).
    begins, ends = [], []
    for size, k, s, d in zip(in_hw, kernel, strides, dilations):
        total = max((ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)
        small, large = total // 2, total - total // 2
        begins.append(small if auto_pad == "SAME_UPPER" else large)
        ends.append(large if auto_pad == "SAME_UPPER" else small)
    return (*begins, *ends)


@dataclass(frozen=True)
class ConvSpec:
    """One planned Conv, as the kernel modules see it (shapes logical, NCHW order)."""

    x: object  # the input Value, stored NHWC
    residual: object  # a Value of the output's shape, stored NHWC, or None
    shape: tuple  # output (N, Cout, Ho, Wo)
    in_hwc: tuple  # (H, W, Cin)
    kernel: tuple  # (kh, kw)
    groups: int
    pads: tuple  # (top, left, bottom, right)
    strides: tuple
    dilations: tuple
    bias: np.ndarray  # float32 (Cout,), the BatchNormalization folded in
    bounds: tuple | None  # (lo, hi) or None
    activation: str | None = None  # applied after the clip, before the residual (Epilogue.activation)

    @property
    def kind(self):
        """ "conv1x1", "dwconv" or "conv": what the backends tell apart (module docstring)."""
        cout, c = self.shape[1], self.in_hwc[2]
        if self.groups == c == cout:
            return "dwconv"
        if self.kernel == (1, 1) and self.groups == 1 and self.strides == (1, 1) and not any(self.pads):
            return "conv1x1"
        return "conv"

    @property
    def flops(self):
        """Multiply-adds x 2 per batch item."""
        _, cout, ho, wo = self.shape
        return 2 * ho * wo * cout * self.kernel[0] * self.kernel[1] * self.in_hwc[2] // self.groups

    def emit(self, p, kernel, implementation, /, **params):
        """Adds kernel(x[, residual], **params) as the conv's step."""
        inputs = [self.x] + ([self.residual] if self.residual is not None else [])
        return p.emit(
            kernel, inputs, self.shape, nhwc=True, label=self.label(implementation), flops=self.flops, **params
        )

    def label(self, implementation):
        """A step's label, '<family>[<implementation>] HxWxC->HoxWoxCout[ +res]', e.g.
        'dwconv3x3s2[xnnpack] 112x112x96->56x56x96' (the profile groups steps by its first word)."""
        name = self.kind
        (kh, kw), (sh, sw) = self.kernel, self.strides
        if name != "conv1x1":
            name += f"{kh}x{kw}" + (f"s{sh}" if sh == sw else f"s{sh}x{sw}")
            name += f"g{self.groups}" if self.groups > 1 and name[:2] != "dw" else ""
            name += "d" if self.dilations != (1, 1) else ""
        (h, w, c), (_, cout, ho, wo) = self.in_hwc, self.shape
        residual = " +res" if self.residual is not None else ""
        activation = f" +{self.activation}" if self.activation else ""
        return f"{name}[{implementation}] {h}x{w}x{c}->{ho}x{wo}x{cout}{activation}{residual}"


def conv_geometry(node, x_shape, w_shape):
    """Checks a Conv-like node (Conv, QLinearConv, ConvInteger) against its input and weight
    shapes -> (output shape, groups, pads, strides, dilations)."""
    groups = node.attrs.get("group", 1)
    if len(x_shape) != 4 or len(w_shape) != 4:
        raise fail(node, f"only 2-D convolutions are supported (input {x_shape}, weight {w_shape})")
    n, c, h, wd = x_shape
    cout, cin_group, kh, kw = w_shape
    if c != cin_group * groups or cout % groups:
        raise fail(node, f"input channels {c}, weight {w_shape} and group {groups} disagree")
    if tuple(node.attrs.get("kernel_shape", (kh, kw))) != (kh, kw):
        raise fail(node, f"kernel_shape {node.attrs['kernel_shape']} != weight {w_shape}")
    strides = tuple(node.attrs.get("strides", (1, 1)))
    dilations = tuple(node.attrs.get("dilations", (1, 1)))
    pads = conv_pads(node, (h, wd), (kh, kw), strides, dilations)
    ho, wo = conv_numpy.out_hw((h + pads[0] + pads[2], wd + pads[1] + pads[3]), (kh, kw), strides, dilations)
    if ho < 1 or wo < 1:
        raise fail(node, f"input {x_shape} is smaller than the kernel {(kh, kw)}")
    return (n, cout, ho, wo), groups, pads, strides, dilations


@lowering("Conv")
def lower_conv(p, node):
    x = p.input(node, 0)
    w = p.const(node, 1, "weight")  # (Cout, C/G, kh, kw)
    bias = p.const(node, 2, "bias")  # (Cout,) or None
    epilogue = node.fused or Epilogue()
    shape, groups, pads, strides, dilations = conv_geometry(node, x.shape, w.shape)
    cout = shape[1]
    # A BatchNormalization folded in by fuse.py: conv(x, w, bias) * scale + shift per output
    # channel is conv(x, w * scale, bias * scale + shift). Without one, scale 1 is exact.
    scale, shift = epilogue.scale_shift or (np.ones(cout), np.zeros(cout))  # float64 (Cout,)
    if scale.shape != (cout,) or shift.shape != (cout,):
        raise fail(node, f"the BatchNormalization after it has {scale.size} channels, not {cout}")
    bias = (shift if bias is None else bias * scale + shift).astype(np.float32)
    residual = p.input(node, 3) if epilogue.residual else None
    if residual is not None and residual.shape != shape:  # a broadcast Add: its own step after the conv
        y = lower_conv_as(
            p, x, None, w, scale, bias, epilogue.bounds, shape, groups, pads, strides, dilations, epilogue.activation
        )
        return emit_binary(p, node, "Add", y, residual)
    return lower_conv_as(
        p, x, residual, w, scale, bias, epilogue.bounds, shape, groups, pads, strides, dilations, epilogue.activation
    )


def lower_conv_as(p, x, residual, w, scale, bias, bounds, shape, groups, pads, strides, dilations, activation=None):
    """Emits the conv with the plan's backend, which lays the weights out for its kernel."""
    cout, cin_group, kh, kw = w.shape
    residual = None if residual is None else p.nhwc(residual)
    spec = ConvSpec(
        p.nhwc(x),
        residual,
        shape,
        (x.shape[2], x.shape[3], cin_group * groups),
        (kh, kw),
        groups,
        pads,
        strides,
        dilations,
        bias,
        bounds,
        activation,
    )
    return p.lower("conv", spec, w, scale)
