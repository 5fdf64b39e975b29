"""Conv (2-D) on NHWC activations, with three kernels chosen at plan time:

- pointwise (1x1, stride 1, no pad, one group): the whole conv is one C-contiguous matmul
  (N*H*W, Cin) @ (Cin, Cout) -- the bulk of MobileNet-style compute;
- depthwise (groups == Cin == Cout): kh*kw shifted multiply-adds over the padded input, each
  vectorised over the contiguous channel axis;
- im2col (anything else: the stem's 3x3 conv, strided or grouped convs): gather the kh*kw
  shifted windows into a (G, N*Ho*Wo, kh*kw*Cin/G) matrix and do one matmul per group.

Bias and a fused activation (Relu/Clip, see fuse.py) are applied to the fresh output; a fused
BatchNormalization is folded into the weights and bias here, at plan time.

Two details matter only inside the component, where numpy's loops are plain C compiled to
wasm (measured there: a whole MobileNetV2 224x224 takes 45 ms with both, 51 ms without):
- per-channel operands (bias, depthwise taps) are tiled at plan time to (Wo, C), so that
  with a stride-1 window numpy runs one long inner loop over each output row instead of
  restarting a C-long loop at every pixel (-4.5 ms);
- the clip never writes over its own input: an in-place np.clip was measured 2-20x slower
  than one into another buffer, and data-dependent -- as if the compiled loop were
  vectorised behind a runtime no-overlap check, leaving in-place calls on the branchy
  scalar fallback (-2 ms on the current build).
"""
from math import ceil

import numpy as np

from .registry import fail, lowering

# Conv attributes added by fuse.py, absent when nothing was fused:
ACTIVATION = "activation"    # (lo, hi) clip bounds of a following Relu/Clip
SCALE_SHIFT = "scale_shift"  # (scale, shift), float64 (Cout,): a following BatchNormalization


def pad_nhwc(x, pads):
    """x: (N, H, W, C), pads (top, left, bottom, right) -> zero-padded (N, H+t+b, W+l+r, C)."""
    if not any(pads):
        return x
    top, left, bottom, right = pads
    n, h, w, c = x.shape
    out = np.zeros((n, h + top + bottom, w + left + right, c), x.dtype)
    out[:, top:top + h, left:left + w] = x
    return out


def _window(xp, i, j, out_hw, strides, dilations):
    """The input pixels that kernel tap (i, j) meets for every output pixel: (N, Ho, Wo, C) view."""
    (ho, wo), (sh, sw), (dh, dw) = out_hw, strides, dilations
    return xp[:, i * dh:i * dh + sh * (ho - 1) + 1:sh, j * dw:j * dw + sw * (wo - 1) + 1:sw]


def _out_hw(padded_hw, kernel, strides, dilations):
    return tuple((p - (k - 1) * d - 1) // s + 1 for p, k, s, d in zip(padded_hw, kernel, strides, dilations))


def _finish(y, bias, activation, spare=None):
    """y + bias, then the activation into `spare` (or a new array): not in place, see above."""
    y += bias
    return y if activation is None else np.clip(y, *activation, out=spare)


def conv_pointwise(x, w, bias, activation):
    # x: (N, H, W, Cin), w: (Cin, Cout), bias: (W, Cout) -> (N, H, W, Cout)
    n, h, wd, cin = x.shape
    y = x.reshape(n * h * wd, cin) @ w  # (N*H*W, Cout)
    return _finish(y.reshape(n, h, wd, w.shape[1]), bias, activation)


def conv_depthwise(x, w, bias, activation, pads, strides, dilations):
    # x: (N, H, W, C), w: (kh, kw, Wo, C), bias: (Wo, C) -> (N, Ho, Wo, C)
    xp = pad_nhwc(x, pads)  # (N, Hp, Wp, C)
    kh, kw = w.shape[:2]
    out_hw = _out_hw(xp.shape[1:3], (kh, kw), strides, dilations)
    taps = [(i, j) for i in range(kh) for j in range(kw)]
    y = np.multiply(_window(xp, *taps[0], out_hw, strides, dilations), w[taps[0]])  # (N, Ho, Wo, C)
    product = np.empty_like(y)  # reused, so each tap allocates nothing
    for i, j in taps[1:]:
        np.multiply(_window(xp, i, j, out_hw, strides, dilations), w[i, j], out=product)
        y += product
    return _finish(y, bias, activation, spare=product)


def conv_im2col(x, w, bias, activation, pads, strides, dilations, kernel):
    # x: (N, H, W, C), w: (G, kh*kw*C/G, Cout/G), bias: (Wo, Cout) -> (N, Ho, Wo, Cout)
    xp = pad_nhwc(x, pads)  # (N, Hp, Wp, C)
    n, _, _, c = xp.shape
    groups = w.shape[0]
    (kh, kw), (ho, wo) = kernel, _out_hw(xp.shape[1:3], kernel, strides, dilations)
    cols = np.empty((n, ho, wo, kh, kw, c), xp.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, :, i, j] = _window(xp, i, j, (ho, wo), strides, dilations)
    # Rows grouped by conv group: (G, N*Ho*Wo, kh*kw*C/G); a free reshape when G == 1.
    cols = cols.reshape(n * ho * wo, kh, kw, groups, c // groups).transpose(3, 0, 1, 2, 4)
    y = np.matmul(cols.reshape(groups, n * ho * wo, -1), w)  # (G, N*Ho*Wo, Cout/G)
    y = y.transpose(1, 0, 2).reshape(n, ho, wo, -1)         # (N, Ho, Wo, Cout), group-major channels
    return _finish(y, bias, activation)


def _scaled(w, scale):
    """w * scale (broadcast) into a new C-contiguous float32 array: one pass that lays the
    weights out for a kernel and folds in a BatchNormalization's float64 scale. The product is
    taken in float64 and rounded once, as a float64 fold would, but numpy casts it through
    small buffers, so no weight-sized float64 temporary is made."""
    out = np.empty(np.broadcast_shapes(w.shape, scale.shape), np.float32)
    return np.multiply(w, scale, out=out, dtype=np.float64, casting="unsafe")


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


@lowering("Conv")
def lower_conv(p, node):
    x = p.input(node, 0)
    w = p.const(node, 1, "weight")  # (Cout, C/G, kh, kw)
    bias = p.const(node, 2, "bias")  # (Cout,) or None
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
    ho, wo = _out_hw((h + pads[0] + pads[2], wd + pads[1] + pads[3]), (kh, kw), strides, dilations)
    if ho < 1 or wo < 1:
        raise fail(node, f"input {x.shape} is smaller than the kernel {(kh, kw)}")
    # A BatchNormalization folded in by fuse.py: conv(x, w, bias) * scale + shift per output
    # channel is conv(x, w * scale, bias * scale + shift). Without one, scale 1 is exact.
    scale, shift = node.attrs.get(SCALE_SHIFT, (np.ones(cout), np.zeros(cout)))  # float64 (Cout,)
    if scale.shape != (cout,) or shift.shape != (cout,):
        raise fail(node, f"the BatchNormalization after it has {scale.size} channels, not {cout}")
    bias = (shift if bias is None else bias * scale + shift).astype(np.float32)
    bias = np.ascontiguousarray(np.broadcast_to(bias, (wo, cout)))  # tiled: see the module doc
    activation = node.attrs.get(ACTIVATION)
    x = p.nhwc(x)
    shape = (n, cout, ho, wo)
    geometry = dict(pads=pads, strides=strides, dilations=dilations)

    # Each kernel's weight layout keeps Cout last, where `_scaled` multiplies by the scale.
    if groups == c == cout:
        w = w[:, 0].transpose(1, 2, 0)  # (C, 1, kh, kw) -> (kh, kw, C)
        w = _scaled(np.broadcast_to(w[:, :, None], (kh, kw, wo, c)), scale)  # tiled: (kh, kw, Wo, C)
        return p.emit(conv_depthwise, [x], shape, nhwc=True, w=w, bias=bias, activation=activation, **geometry)
    if (kh, kw) == (1, 1) and groups == 1 and strides == (1, 1) and not any(pads):
        w = _scaled(w.reshape(cout, c).T, scale)  # (Cin, Cout)
        return p.emit(conv_pointwise, [x], shape, nhwc=True, w=w, bias=bias, activation=activation)
    # (Cout, C/G, kh, kw) -> (G, kh*kw*C/G, Cout/G), rows in the order im2col lays out patches.
    w = w.reshape(groups, cout // groups, cin_group, kh, kw).transpose(0, 3, 4, 2, 1)  # (G, kh, kw, C/G, Cout/G)
    w = _scaled(w, scale.reshape(groups, 1, 1, 1, cout // groups))
    w = w.reshape(groups, kh * kw * cin_group, cout // groups)  # free: w is fresh and C-contiguous
    return p.emit(conv_im2col, [x], shape, nhwc=True, w=w, bias=bias, activation=activation,
                  kernel=(kh, kw), **geometry)
