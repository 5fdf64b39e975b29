"""Conv (2-D) on NHWC activations: the checks, the padding, a folded BatchNormalization, and
the choice of kernel at plan time -- XNNPACK's (xnn.py) where the plan has the module,
numpy's (conv_numpy.py) otherwise:

    pointwise (1x1, stride 1, no pad, one group)    xnnpack gemm     | numpy matmul
    depthwise (groups == Cin == Cout), 9 or 25 taps  xnnpack dwconv   | numpy shifted multiply-adds
    depthwise, other tap counts                      numpy shifted multiply-adds (both)
    anything else (the stem, grouped, strided 1x1)   xnnpack igemm    | numpy im2col + matmul

What fuse.py merged into a Conv is typed plan data on the node (`node.fused`, an Epilogue),
never one of the file's attributes: a model whose Conv carries an attribute named like an
engine internal gets the plain ONNX Conv.
"""
from dataclasses import dataclass
from math import ceil

import numpy as np

from . import conv_numpy, xnn
from .elementwise import emit_binary
from .registry import fail, lowering


@dataclass(frozen=True)
class Epilogue:
    """What follows the convolution itself, fused by fuse.py, applied in this order."""
    scale_shift: tuple | None = None  # (scale, shift), float64 (Cout,): a folded BatchNormalization
    bounds: tuple | None = None       # (lo, hi): a following Relu/Clip
    residual: bool = False      # an Add of the conv's output and the node's input 3


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


def _scaled(w, scale):
    """w * scale (broadcast) into a new C-contiguous float32 array: one pass that lays the
    weights out for a kernel and folds in a BatchNormalization's float64 scale. The product is
    taken in float64 and rounded once, as a float64 fold would, but numpy casts it through
    small buffers, so no weight-sized float64 temporary is made."""
    out = np.empty(np.broadcast_shapes(w.shape, scale.shape), np.float32)
    return np.multiply(w, scale, out=out, dtype=np.float64, casting="unsafe")


@dataclass(frozen=True)
class ConvSpec:
    """One planned Conv, as the kernel modules see it (shapes logical, NCHW order)."""
    x: object                 # the input Value, stored NHWC
    residual: object          # a Value of the output's shape, stored NHWC, or None
    shape: tuple              # output (N, Cout, Ho, Wo)
    in_hwc: tuple             # (H, W, Cin)
    kernel: tuple             # (kh, kw)
    groups: int
    pads: tuple               # (top, left, bottom, right)
    strides: tuple
    dilations: tuple
    bias: np.ndarray          # float32 (Cout,), the BatchNormalization folded in
    bounds: tuple             # (lo, hi) or None

    @property
    def flops(self):
        """Multiply-adds x 2 per batch item."""
        _, cout, ho, wo = self.shape
        return 2 * ho * wo * cout * self.kernel[0] * self.kernel[1] * self.in_hwc[2] // self.groups

    def label(self, name, implementation):
        """A step's label, '<family>[<implementation>] HxWxC->HoxWoxCout[ +res]', e.g.
        'dwconv3x3s2[xnnpack] 112x112x96->56x56x96' (the profile groups steps by its first word)."""
        (kh, kw), (sh, sw) = self.kernel, self.strides
        if name != "conv1x1":
            name += f"{kh}x{kw}" + (f"s{sh}" if sh == sw else f"s{sh}x{sw}")
            name += (f"g{self.groups}" if self.groups > 1 and name[:2] != "dw" else "")
            name += "d" if self.dilations != (1, 1) else ""
        (h, w, c), (_, cout, ho, wo) = self.in_hwc, self.shape
        residual = " +res" if self.residual is not None else ""
        return f"{name}[{implementation}] {h}x{w}x{c}->{ho}x{wo}x{cout}{residual}"


@lowering("Conv")
def lower_conv(p, node):
    x = p.input(node, 0)
    w = p.const(node, 1, "weight")  # (Cout, C/G, kh, kw)
    bias = p.const(node, 2, "bias")  # (Cout,) or None
    epilogue = node.fused or Epilogue()
    groups = node.attrs.get("group", 1)
    if len(x.shape) != 4 or w.ndim != 4:
        raise fail(node, f"only 2-D convolutions are supported (input {x.shape}, weight {w.shape})")
    n, c, h, wd = x.shape
    cout, cin_group, kh, kw = w.shape
    if c != cin_group * groups or cout % groups:
        raise fail(node, f"input channels {c}, weight {w.shape} and group {groups} disagree")
    if tuple(node.attrs.get("kernel_shape", (kh, kw))) != (kh, kw):
        raise fail(node, f"kernel_shape {node.attrs['kernel_shape']} != weight {w.shape}")
    strides = tuple(node.attrs.get("strides", (1, 1)))
    dilations = tuple(node.attrs.get("dilations", (1, 1)))
    pads = conv_pads(node, (h, wd), (kh, kw), strides, dilations)
    ho, wo = conv_numpy.out_hw((h + pads[0] + pads[2], wd + pads[1] + pads[3]), (kh, kw), strides, dilations)
    if ho < 1 or wo < 1:
        raise fail(node, f"input {x.shape} is smaller than the kernel {(kh, kw)}")
    # A BatchNormalization folded in by fuse.py: conv(x, w, bias) * scale + shift per output
    # channel is conv(x, w * scale, bias * scale + shift). Without one, scale 1 is exact.
    scale, shift = epilogue.scale_shift or (np.ones(cout), np.zeros(cout))  # float64 (Cout,)
    if scale.shape != (cout,) or shift.shape != (cout,):
        raise fail(node, f"the BatchNormalization after it has {scale.size} channels, not {cout}")
    bias = (shift if bias is None else bias * scale + shift).astype(np.float32)
    shape = (n, cout, ho, wo)
    residual = p.input(node, 3) if epilogue.residual else None
    if residual is not None and residual.shape != shape:  # a broadcast Add: its own step after the conv
        y = lower_conv_as(p, x, None, w, scale, bias, epilogue.bounds, shape, groups, pads, strides, dilations)
        return emit_binary(p, node, "Add", y, residual)
    return lower_conv_as(p, x, residual, w, scale, bias, epilogue.bounds, shape, groups, pads, strides, dilations)


def lower_conv_as(p, x, residual, w, scale, bias, bounds, shape, groups, pads, strides, dilations):
    """Lays the weights out for the chosen kernel and emits it. The numpy kernels' layouts keep
    Cout last, where `_scaled` multiplies by the BN scale; XNNPACK's packers do both at once."""
    cout, cin_group, kh, kw = w.shape
    c = cin_group * groups
    residual = None if residual is None else p.nhwc(residual)
    spec = ConvSpec(p.nhwc(x), residual, shape, (x.shape[2], x.shape[3], c), (kh, kw),
                    groups, pads, strides, dilations, bias, bounds)
    if p.xnn is not None and xnn.has_conv((kh, kw), groups, c, cout):
        return xnn.emit_conv(p, spec, w, scale)
    if groups == c == cout:
        w = _scaled(w[:, 0].transpose(1, 2, 0), scale)  # (C, 1, kh, kw) -> (kh, kw, C)
        return _emit_numpy(p, spec, conv_numpy.conv_depthwise, "dwconv", w=w, pads=pads, strides=strides,
                           dilations=dilations)
    if (kh, kw) == (1, 1) and groups == 1 and strides == (1, 1) and not any(pads):
        w = _scaled(w.reshape(cout, c).T, scale)  # (Cin, Cout)
        return _emit_numpy(p, spec, conv_numpy.conv_pointwise, "conv1x1", w=w)
    # (Cout, C/G, kh, kw) -> (G, kh*kw*C/G, Cout/G), rows in the order im2col lays out patches.
    w = w.reshape(groups, cout // groups, cin_group, kh, kw).transpose(0, 3, 4, 2, 1)  # (G, kh, kw, C/G, Cout/G)
    w = _scaled(w, scale.reshape(groups, 1, 1, 1, cout // groups))
    w = w.reshape(groups, kh * kw * cin_group, cout // groups)  # free: w is fresh and C-contiguous
    return _emit_numpy(p, spec, conv_numpy.conv_im2col, "conv", w=w, pads=pads, strides=strides,
                       dilations=dilations, kernel=(kh, kw))


def _emit_numpy(p, spec, function, name, /, **params):
    inputs = [spec.x] + ([spec.residual] if spec.residual is not None else [])
    return p.emit(function, inputs, spec.shape, nhwc=True, label=spec.label(name, "numpy"), flops=spec.flops,
                  bias=spec.bias, bounds=spec.bounds, **params)
