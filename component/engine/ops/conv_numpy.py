"""Conv kernels in numpy: the reference, and the path everywhere the XNNPACK module is absent
(natively; inside the component on request). Activations are NHWC (channels innermost: a 1x1
conv is one C-contiguous matmul, a depthwise tap one multiply-add vectorised over channels):

- pointwise (1x1, stride 1, no pad, one group): one (N*H*W, Cin) @ (Cin, Cout) matmul;
- depthwise (groups == Cin == Cout): kh*kw shifted multiply-adds over the padded input;
- im2col (anything else): the kh*kw shifted windows gathered into a (G, N*Ho*Wo, kh*kw*Cin/G)
  matrix, one matmul per group.

Then the epilogue the lowering fused in (ops.conv.Epilogue): bias, clip, residual add, in
that order, on the fresh output. Written for clarity and native speed: the tricks that only
paid inside wasm (operands tiled across the output width, clips into a spare buffer) went
when XNNPACK's kernels took over there.
"""

import numpy as np

from ..buffers import makes_new_arrays


def pad_nhwc(x, pads):
    """x: (N, H, W, C), pads (top, left, bottom, right) -> zero-padded (N, H+t+b, W+l+r, C)."""
    if not any(pads):
        return x
    top, left, bottom, right = pads
    n, h, w, c = x.shape
    out = np.zeros((n, h + top + bottom, w + left + right, c), x.dtype)
    out[:, top : top + h, left : left + w] = x
    return out


def out_hw(padded_hw, kernel, strides, dilations):
    """Output (Ho, Wo) of a conv over a padded (Hp, Wp) input."""
    return tuple((p - (k - 1) * d - 1) // s + 1 for p, k, s, d in zip(padded_hw, kernel, strides, dilations))


def _window(xp, i, j, hw, strides, dilations):
    """The input pixels that kernel tap (i, j) meets for every output pixel: (N, Ho, Wo, C) view."""
    (ho, wo), (sh, sw), (dh, dw) = hw, strides, dilations
    return xp[:, i * dh : i * dh + sh * (ho - 1) + 1 : sh, j * dw : j * dw + sw * (wo - 1) + 1 : sw]


def _finish(y, bias, bounds, residual):
    """y: the fresh (N, Ho, Wo, Cout) product -> y + bias, clipped, + residual, in place."""
    y += bias
    if bounds is not None:
        np.clip(y, *bounds, out=y)
    if residual is not None:
        y += residual
    return y


@makes_new_arrays
def conv_pointwise(x, *residual, w, bias, bounds):
    # x: (N, H, W, Cin), w: (Cin, Cout), bias: (Cout,), residual: () or ((N, H, W, Cout),)
    n, h, wd, cin = x.shape
    y = (x.reshape(n * h * wd, cin) @ w).reshape(n, h, wd, w.shape[1])
    return _finish(y, bias, bounds, *residual or (None,))


@makes_new_arrays
def conv_depthwise(x, *residual, w, bias, bounds, pads, strides, dilations):
    # x: (N, H, W, C), w: (kh, kw, C), bias: (C,) -> (N, Ho, Wo, C)
    xp = pad_nhwc(x, pads)  # (N, Hp, Wp, C)
    kh, kw = w.shape[:2]
    hw = out_hw(xp.shape[1:3], (kh, kw), strides, dilations)
    taps = [(i, j) for i in range(kh) for j in range(kw)]
    y = np.multiply(_window(xp, *taps[0], hw, strides, dilations), w[taps[0]])  # (N, Ho, Wo, C)
    product = np.empty_like(y)  # reused, so each tap allocates nothing
    for i, j in taps[1:]:
        np.multiply(_window(xp, i, j, hw, strides, dilations), w[i, j], out=product)
        y += product
    return _finish(y, bias, bounds, *residual or (None,))


@makes_new_arrays
def conv_im2col(x, *residual, w, bias, bounds, pads, strides, dilations, kernel):
    # x: (N, H, W, C), w: (G, kh*kw*C/G, Cout/G), bias: (Cout,) -> (N, Ho, Wo, Cout)
    xp = pad_nhwc(x, pads)  # (N, Hp, Wp, C)
    n, _, _, c = xp.shape
    groups = w.shape[0]
    (kh, kw), (ho, wo) = kernel, out_hw(xp.shape[1:3], kernel, strides, dilations)
    cols = np.empty((n, ho, wo, kh, kw, c), xp.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, :, i, j] = _window(xp, i, j, (ho, wo), strides, dilations)
    # Rows grouped by conv group: (G, N*Ho*Wo, kh*kw*C/G); a free reshape when G == 1.
    cols = cols.reshape(n * ho * wo, kh, kw, groups, c // groups).transpose(3, 0, 1, 2, 4)
    y = np.matmul(cols.reshape(groups, n * ho * wo, -1), w)  # (G, N*Ho*Wo, Cout/G)
    y = y.transpose(1, 0, 2).reshape(n, ho, wo, -1)  # (N, Ho, Wo, Cout), group-major channels
    return _finish(y, bias, bounds, *residual or (None,))
