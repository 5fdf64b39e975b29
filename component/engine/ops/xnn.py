"""Kernels from the xnn_kernels extension module (wasi/kernels/), for plans made where it
imports (inside the component): XNNPACK's convolutions, and two loops numpy runs slowly in
wasm. At plan time the weights are packed into the microkernels' layout and the padding is
turned into an indirection buffer (bytes objects the module makes; they live in the plan, so
in an embedded model's snapshot); a step then makes one C call that writes into its Output
(buffers.py), with bias and clip fused.

    pointwise 1x1      gemm: (N*H*W, Cin) x packed (Cin, Cout), + residual fused per row tile
    depthwise          dwconv: XNNPACK's unipass kernels for 9 (3x3) and 25 (5x5) taps
    anything else      conv: indirect GEMM (igemm) over the kh*kw taps, per group (under 4
                       channels a group, as the stem: rows gathered per tile, then GEMM)
    Gemm/MatMul        gemm, by constant weights packed from the file's layout
    NCHW -> NHWC       the graph input's layout change (planner.nhwc)
    mean over H, W     GlobalAveragePool, ReduceMean over the spatial axes

Measured inside the component (wasi/kernels/build.sh has the kernel choice and the numbers):
a 1x1 conv ~30 GFLOP/s on warm caches (25-27 over a whole MobileNetV2 pass) where numpy's
matmul made 13-22, a depthwise 3x3 12-16 GFLOP/s (8-11 in a pass) where numpy's shifted
multiply-adds made 0.5-1.5.
"""
import numpy as np

from ..accel import xnn_kernels
from ..buffers import Output

_NO_BOUNDS = (-np.inf, np.inf)


def has_conv(kernel, groups, channels, out_channels):
    """Whether these kernels take a conv: any, but a depthwise one only with 9 (3x3) or 25
    (5x5) taps, where XNNPACK has unipass kernels (an IGEMM with one channel per group would
    be slower than numpy's shifted multiply-adds)."""
    depthwise = groups == channels == out_channels
    return not depthwise or kernel[0] * kernel[1] in xnn_kernels.DWCONV_TAPS


def xnn_gemm(x, *residual, packed, out, bounds):
    # x: (N, H, W, Cin), residual: () or ((N, H, W, Cout),) -> (N, H, W, Cout)
    y = out.array(x.shape[0])
    xnn_kernels.gemm(np.ascontiguousarray(x), packed, y, *bounds, *residual)
    return y


def xnn_dwconv(x, *residual, packed, geometry, out, bounds):
    # x: (N, H, W, C) -> (N, Ho, Wo, C); the geometry holds H, W, the taps, strides, pads
    y = out.array(x.shape[0])
    xnn_kernels.dwconv(np.ascontiguousarray(x), packed, geometry, y, *bounds)
    return _add(y, residual)


def xnn_conv(x, *residual, packed, geometry, out, bounds):
    # x: (N, H, W, C) -> (N, Ho, Wo, Cout)
    y = out.array(x.shape[0])
    xnn_kernels.conv(np.ascontiguousarray(x), packed, geometry, y, *bounds)
    return _add(y, residual)


def _add(y, residual):
    """The residual of a fused Add, where the kernel has no epilogue for it: in place, while
    y is still in cache from the kernel's writes."""
    if residual:
        np.add(y, residual[0], out=y)
    return y


def xnn_to_nhwc(x, out):
    # x: (N, C, H, W) -> (N, H, W, C)
    if x.dtype != np.float32:  # never seen (the graph input is float32); numpy's copy keeps the dtype
        return np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    return xnn_kernels.nchw_to_nhwc(np.ascontiguousarray(x), out.array(x.shape[0]))


def xnn_mean(x, out):
    # x: (N, H, W, C) -> (N, 1, 1, C)
    return xnn_kernels.mean_hw(np.ascontiguousarray(x), out.array(x.shape[0]))


def emit_to_nhwc(p, value, shape):
    # value: a run-time (N, C, H, W) float32 tensor; shape: its logical shape
    return p.emit(xnn_to_nhwc, [value], shape, nhwc=True, label="to_nhwc[xnnpack]",
                  out=Output((shape[2], shape[3], shape[1])))


def emit_mean_hw(p, x, shape):
    # x: stored NHWC; shape: the logical result (N, C, 1, 1)
    return p.emit(xnn_mean, [x], shape, nhwc=True, label="mean_hw[xnnpack]", out=Output((1, 1, shape[1])))


def _shape(spec):
    """geometry arguments of the module: H, W, C, kh, kw, strides, dilations, pads."""
    return (*spec.in_hwc, *spec.kernel, *spec.strides, *spec.dilations, *spec.pads)


def _emit(p, spec, kernel, name, /, **params):
    inputs = [spec.x] + ([spec.residual] if spec.residual is not None else [])
    _, cout, ho, wo = spec.shape
    return p.emit(kernel, inputs, spec.shape, nhwc=True, label=spec.label(name, "xnnpack"), flops=spec.flops,
                  out=Output((ho, wo, cout)), bounds=spec.bounds or _NO_BOUNDS, **params)


def emit_matmul(p, a, w, transposed, alpha, bias, shape, describe):
    # a: (M, K) plain, w: constant (N, K) if transposed else (K, N), bias: float32 (N,) -> (M, N)
    w = np.ascontiguousarray(w, np.float32)
    if transposed:  # (N, K) is a 1x1 conv's (Cout, Cin) layout
        n, k = w.shape
        packed = xnn_kernels.pack_conv(w.reshape(n, k, 1, 1), np.full(n, alpha, np.float64), bias, 1)
    else:
        packed = xnn_kernels.pack_gemm(w, bias)
    return p.emit(xnn_gemm, [a], shape, out=Output(shape[1:]), bounds=_NO_BOUNDS, packed=packed, **describe)


def emit_conv(p, spec, w, scale):
    """w: the file's (Cout, C/G, kh, kw) float32, scale: float64 (Cout,), folded while packing."""
    w, scale = np.ascontiguousarray(w, np.float32), np.ascontiguousarray(scale, np.float64)
    (kh, kw), (_, cout, _, _), c = spec.kernel, spec.shape, spec.in_hwc[2]
    if spec.groups == c == cout:
        return _emit(p, spec, xnn_dwconv, "dwconv", packed=xnn_kernels.pack_dwconv(w, scale, spec.bias),
                     geometry=xnn_kernels.dwconv_geometry(*_shape(spec)))
    packed = xnn_kernels.pack_conv(w, scale, spec.bias, spec.groups)
    if (kh, kw) == (1, 1) and spec.groups == 1 and spec.strides == (1, 1) and not any(spec.pads):
        return _emit(p, spec, xnn_gemm, "conv1x1", packed=packed)
    geometry = xnn_kernels.conv_geometry(*_shape(spec), spec.groups)
    return _emit(p, spec, xnn_conv, "conv", packed=packed, geometry=geometry)
