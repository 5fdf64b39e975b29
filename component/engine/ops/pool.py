"""MaxPool, AveragePool (2-D) and GlobalMaxPool on NHWC activations: a pool between convs
keeps the run NHWC. The kernels take the max / sum over the kh*kw strided views of the padded
input (one vectorised pass per tap, channels innermost); everything about the geometry --
auto_pad, ceil_mode's extra row and column, the averaging divisor -- is settled at plan time.
storage_order only concerns MaxPool's second output (Indices), which is not supported."""
import numpy as np

from .conv import conv_pads
from .registry import fail, lowering


def max_pool(x, kernel, strides, dilations, pads, out_hw):
    # x: (N, H, W, C) -> (N, Ho, Wo, C); pads: (top, left, bottom, right), ceil_mode's included
    y = None
    for window in _windows(_padded(x, pads, -np.inf), kernel, strides, dilations, out_hw):
        y = window.copy() if y is None else np.maximum(y, window, out=y)
    return y


def average_pool(x, kernel, strides, dilations, pads, out_hw, divisor):
    # x: (N, H, W, C) -> (N, Ho, Wo, C); divisor: float32 (Ho, Wo, 1), the count of each window
    y = None
    for window in _windows(_padded(x, pads, 0), kernel, strides, dilations, out_hw):
        y = window.copy() if y is None else np.add(y, window, out=y)
    return np.divide(y, divisor, out=y)


def global_max(x, axes):
    return x.max(axis=axes, keepdims=True)


def _padded(x, pads, value):
    top, left, bottom, right = pads
    if not any(pads):
        return x
    return np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)), constant_values=value)


def _windows(x, kernel, strides, dilations, out_hw):
    """The strided view of x (N, Hp, Wp, C) that each tap of the window reads."""
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = kernel, strides, dilations, out_hw
    for i in range(kh):
        for j in range(kw):
            yield x[:, i * dh:i * dh + sh * (ho - 1) + 1:sh, j * dw:j * dw + sw * (wo - 1) + 1:sw]


def geometry(node, hw):
    """(kernel, strides, dilations, explicit pads, pads with ceil_mode's extension, (Ho, Wo))."""
    attrs = node.attrs
    kernel = tuple(attrs.get("kernel_shape", ()))
    strides = tuple(attrs.get("strides", (1, 1)))
    dilations = tuple(attrs.get("dilations", (1, 1)))
    if len(kernel) != 2 or len(strides) != 2 or len(dilations) != 2:
        raise fail(node, f"only 2-D pools are supported (kernel_shape {list(kernel)}, strides {list(strides)}, "
                         f"dilations {list(dilations)})")
    if min(kernel + strides + dilations) < 1:
        raise fail(node, "kernel_shape, strides and dilations must be positive")
    pads = conv_pads(node, hw, kernel, strides, dilations)
    out, extra = [], []
    for size, k, s, d, begin, end in zip(hw, kernel, strides, dilations, pads[:2], pads[2:]):
        span, padded = (k - 1) * d + 1, size + begin + end
        count = -(-(padded - span) // s) if attrs.get("ceil_mode", 0) else (padded - span) // s
        count += 1
        if attrs.get("ceil_mode", 0) and (count - 1) * s >= size + begin:
            count -= 1  # the last window would start in the end padding
        if count < 1:
            raise fail(node, f"input {tuple(hw)} is smaller than the window {kernel}")
        out.append(count)
        extra.append(max(0, (count - 1) * s + span - padded))
    full = (pads[0], pads[1], pads[2] + extra[0], pads[3] + extra[1])
    return kernel, strides, dilations, pads, full, tuple(out)


def _divisor(node, hw, kernel, strides, dilations, pads, full, out_hw):
    """How many values each window averages: with count_include_pad the explicit padding
    counts, never ceil_mode's extension (as onnxruntime)."""
    h, w = hw
    mask = np.zeros((1, h + full[0] + full[2], w + full[1] + full[3], 1), np.float32)
    if node.attrs.get("count_include_pad", 0):
        mask[:, :h + pads[0] + pads[2], :w + pads[1] + pads[3]] = 1
    else:
        mask[:, pads[0]:pads[0] + h, pads[1]:pads[1] + w] = 1
    return sum(_windows(mask, kernel, strides, dilations, out_hw))[0]


@lowering("MaxPool", "AveragePool")
def lower_pool(p, node):
    """2-D on NHWC: kernel_shape, strides, pads, dilations, auto_pad (NOTSET, VALID, SAME_UPPER,
    SAME_LOWER), ceil_mode, count_include_pad (AveragePool), storage_order (no Indices output)."""
    x = p.input(node, 0)
    if len(x.shape) != 4:
        raise fail(node, f"only 2-D pools are supported (input {x.shape})")
    if len(node.outputs) > 1 and node.outputs[1]:
        raise fail(node, "the Indices output is not supported")
    hw = x.shape[2:]
    kernel, strides, dilations, pads, full, out_hw = geometry(node, hw)
    params = {"kernel": kernel, "strides": strides, "dilations": dilations, "pads": full, "out_hw": out_hw}
    shape = (x.shape[0], x.shape[1], *out_hw)
    label = (f"{node.op_type.lower()}{kernel[0]}x{kernel[1]}s{strides[0]}[numpy] "
             f"{hw[0]}x{hw[1]}x{x.shape[1]}->{out_hw[0]}x{out_hw[1]}x{x.shape[1]}")
    if node.op_type == "MaxPool":
        return p.emit(max_pool, [p.nhwc(x)], shape, nhwc=True, label=label, **params)
    divisor = _divisor(node, hw, kernel, strides, dilations, pads, full, out_hw)
    return p.emit(average_pool, [p.nhwc(x)], shape, nhwc=True, label=label, divisor=divisor, **params)


@lowering("GlobalMaxPool")
def lower_global_max_pool(p, node):
    """Any spatial rank; NHWC stays NHWC."""
    x = p.input(node, 0)  # (N, C, *spatial)
    if len(x.shape) < 3:
        raise fail(node, f"input {x.shape} has no spatial axes")
    axes = (1, 2) if x.nhwc else tuple(range(2, len(x.shape)))
    return p.emit(global_max, [x], x.shape[:2] + (1,) * (len(x.shape) - 2), nhwc=x.nhwc, axes=axes)
