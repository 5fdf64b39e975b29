"""MaxPool, AveragePool (2-D) and GlobalMaxPool on NHWC activations: a pool between convs
keeps the run NHWC. The lowering settles the geometry at plan time -- auto_pad, ceil_mode's
extra row and column, the averaging divisor -- into a PoolSpec (pool_spec.py) for the plan's
backend. storage_order only concerns MaxPool's second output (Indices), which is not supported."""

from .conv import conv_pads
from .pool_spec import PoolSpec, pool_out_size
from .registry import fail, lowering


def global_max(x, axes):
    return x.max(axis=axes, keepdims=True)


@lowering("MaxPool", "AveragePool")
def lower_pool(p, node):
    """2-D on NHWC: kernel_shape, strides, pads, dilations, auto_pad (NOTSET, VALID, SAME_UPPER,
    SAME_LOWER), ceil_mode, count_include_pad (AveragePool), storage_order (no Indices output)."""
    x = p.input(node, 0)
    if len(x.shape) != 4:
        raise fail(node, f"only 2-D pools are supported (input {x.shape})")
    if len(node.outputs) > 1 and node.outputs[1]:
        raise fail(node, "the Indices output is not supported")
    attrs = node.attrs
    kernel = tuple(attrs.get("kernel_shape", ()))
    strides = tuple(attrs.get("strides", (1, 1)))
    dilations = tuple(attrs.get("dilations", (1, 1)))
    if len(kernel) != 2 or len(strides) != 2 or len(dilations) != 2:
        raise fail(
            node,
            f"only 2-D pools are supported (kernel_shape {list(kernel)}, strides {list(strides)}, "
            f"dilations {list(dilations)})",
        )
    if min(kernel + strides + dilations) < 1:
        raise fail(node, "kernel_shape, strides and dilations must be positive")
    n, c, h, w = x.shape
    pads = conv_pads(node, (h, w), kernel, strides, dilations)
    out_hw = tuple(
        pool_out_size(size, k, s, pads[a], pads[a + 2], d, attrs.get("ceil_mode", 0))
        for a, (size, k, s, d) in enumerate(zip((h, w), kernel, strides, dilations))
    )
    if min(out_hw) < 1:
        raise fail(node, f"input {(h, w)} is smaller than the window {kernel}")
    spec = PoolSpec(
        (n, c, *out_hw), (h, w, c), kernel, strides, pads, dilations, bool(attrs.get("count_include_pad", 0))
    )
    return p.lower("max_pool" if node.op_type == "MaxPool" else "avg_pool", x, spec)


@lowering("GlobalMaxPool")
def lower_global_max_pool(p, node):
    """Any spatial rank; NHWC stays NHWC."""
    x = p.input(node, 0)  # (N, C, *spatial)
    if len(x.shape) < 3:
        raise fail(node, f"input {x.shape} has no spatial axes")
    axes = (1, 2) if x.nhwc else tuple(range(2, len(x.shape)))
    return p.emit(global_max, [x], x.shape[:2] + (1,) * (len(x.shape) - 2), nhwc=x.nhwc, axes=axes)
