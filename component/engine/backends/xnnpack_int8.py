"""XNNPACK's integer kernels (wasi/kernels/qs8.c) for the quantized ops (ops/quant.py): the
qs8-qc8w GEMM and depthwise kernels -- int8 activations, int8 weights per output channel with
zero point 0, int32 accumulation, fp32 requantization rounded half to even, as numpy's
reference (quant_numpy.py) and onnxruntime compute it -- for

    qconv   1x1 convs (stride 1, no padding, one group): (N*H*W, Cin) x packed (Cin, Cout);
            depthwise 3x3 and 5x5 convs (any stride, padding, dilation) of a multiple of 8
            channels: unipass 9p8c / 25p8c over an indirection buffer whose zero row holds
            the input's zero point; other ungrouped convs (the stem): the windows gathered by
            qs8_im2col over the same indirection buffer, then the GEMM
    qdense  products by constant (K, N) weights, any leading dims; with an int8 output, or a
            float32 one (QGemm without an output scale: float logits) through the qd8-f32
            variant of the same GEMM

with int8 output but where said. uint8 tensors reach them as int8 (plan.py's `signed`).
Everything else returns None and runs on numpy's integer kernels: weights with non-zero zero
points, grouped convs, int32 (ConvInteger, MatMulInteger) outputs.

The weights are packed here, at plan time, into the kernel's layout (qs8.c) and kept as bytes
in the plan: int8, so an embedded model's snapshot holds 1 byte a weight.
"""

import numpy as np

from ..ops.linear import describe
from ..ops.quant_numpy import Rescale

try:
    import xnn_kernels
except ImportError:  # natively: only the component has the cross-built module
    xnn_kernels = None

NR, KR = 4, 8  # the GEMM's tile: 4 output channels, k-blocks of 8
DW_TILE = 8  # the depthwise kernels' channels a pass (9p8c, 25p8c)


def pack(w, bias, scale, x_zero, float_bias=False):
    """w (K, N) int8, bias (N,) int32 values, scale (N,) float32 -> the kernel's bytes; with
    float_bias, the qd8-f32 kernel's (4 float32 biases a block after the scales, all 0: the
    int32 bias rides in the column sums, qs8.c's qs8_gemm_f32)."""
    k, n = w.shape
    kp, np_ = -(-k // KR) * KR, -(-n // NR) * NR
    padded = np.zeros((kp, np_), np.int8)
    padded[:k, :n] = w
    blocks = np_ // NR
    # The kernel multiplies raw int8 activations: x_zero's share of each sum is taken off the bias.
    corrected = np.zeros(np_, np.int32)
    corrected[:n] = np.asarray(bias, np.int64) - x_zero * w.astype(np.int64).sum(axis=0)
    scales = np.ones(np_, np.float32)
    scales[:n] = scale
    weights = padded.reshape(kp // KR, KR, blocks, NR).transpose(2, 0, 3, 1).reshape(blocks, kp * NR)
    parts = [corrected.reshape(blocks, NR).view(np.int8), weights, scales.reshape(blocks, NR).view(np.int8)]
    parts += [np.zeros((blocks, NR * 4), np.int8)] if float_bias else []
    return np.concatenate(parts, axis=1).tobytes()


def xnn_qs8_gemm(x, packed, columns, zero, lo, hi):
    # x: (..., K) int8 -> (..., N) int8
    out = np.empty(x.shape[:-1] + (columns,), np.int8)
    return xnn_kernels.qs8_gemm(np.ascontiguousarray(x), packed, out, zero, lo, hi)


def _supported(w, w_zero, x_zero, x_type, stage):
    """What the qs8-qc8w kernel computes: int8 in (as the input's zero point types it: a uint8
    input is not read as int8), int8 weights with zero point 0, int8 out."""
    return (
        x_type is np.int8
        and w.dtype == np.int8
        and not np.any(w_zero)
        and np.ndim(x_zero) == 0
        and (getattr(stage, "dtype", None) is np.int8 or isinstance(stage, Rescale))
    )


def pack_dwconv(w, bias, scale, x_zero):
    """w (C, 1, kh, kw) int8, bias (C,) int32 values, scale (C,) float32 -> the depthwise
    kernels' bytes: per 8 channels, 8 int32 biases (x_zero's share taken off), the taps x 8
    weights (tap kx*kh + ky, as the geometry orders them), 8 float32 scales."""
    c, taps = w.shape[0], w.shape[2] * w.shape[3]
    tiles = c // DW_TILE
    by_tap = w[:, 0].transpose(2, 1, 0).reshape(taps, c)  # (kw, kh, C): column-major taps
    corrected = np.asarray(bias, np.int64) - x_zero * w.astype(np.int64).reshape(c, taps).sum(axis=1)
    corrected = corrected.astype(np.int32)
    weights = by_tap.reshape(taps, tiles, DW_TILE).transpose(1, 0, 2).reshape(tiles, taps * DW_TILE)
    scale = np.ascontiguousarray(scale, np.float32).reshape(tiles, DW_TILE)
    return np.concatenate(
        [corrected.reshape(tiles, DW_TILE).view(np.int8), weights, scale.view(np.int8)], axis=1
    ).tobytes()


def xnn_qs8_dwconv(x, packed, geometry, zero, lo, hi, hwc):
    # x: (N, H, W, C) int8 -> (N, Ho, Wo, C) int8
    out = np.empty((x.shape[0], *hwc), np.int8)
    return xnn_kernels.qs8_dwconv(np.ascontiguousarray(x), packed, geometry, out, zero, lo, hi)


def qconv(backend, p, spec, w, w_zero, x_zero, x_type, stage):
    if not _supported(w, w_zero, x_zero, x_type, stage):
        return None
    if spec.kind == "dwconv" and spec.kernel[0] * spec.kernel[1] in (9, 25) and spec.shape[1] % DW_TILE == 0:
        cout = spec.shape[1]
        scale = np.broadcast_to(np.asarray(stage.multiplier, np.float32), (cout,))
        packed = pack_dwconv(w, np.rint(spec.bias).astype(np.int64), scale, int(x_zero))
        geometry = _geometry(spec, x_zero)
        return p.emit(
            xnn_qs8_dwconv,
            [spec.x],
            spec.shape,
            nhwc=True,
            label="q" + spec.label(backend.name),
            flops=spec.flops,
            packed=packed,
            geometry=geometry,
            zero=int(stage.zero),
            lo=int(stage.lo),
            hi=int(stage.hi),
            hwc=(spec.shape[2], spec.shape[3], cout),
        )
    if spec.kind == "conv" and spec.groups == 1:  # the stem: its windows gathered (qs8_im2col), then the GEMM
        cout, cin, kh, kw = w.shape
        ho, wo = spec.shape[2], spec.shape[3]
        return _emit(
            backend,
            p,
            spec.x,
            w.transpose(3, 2, 1, 0).reshape(kw * kh * cin, cout),  # the geometry's tap order: column-major
            spec.bias,
            x_zero,
            stage,
            spec.shape,
            kernel=xnn_qs8_im2col_gemm,
            nhwc=True,
            label="q" + spec.label(backend.name),
            flops=spec.flops,
            geometry=_geometry(spec, x_zero),
            window=(ho, wo, kh * kw * cin),
        )
    if spec.kind != "conv1x1":
        return None
    cout, cin = w.shape[:2]
    return _emit(
        backend,
        p,
        spec.x,
        w.reshape(cout, cin).T,
        spec.bias,
        x_zero,
        stage,
        spec.shape,
        nhwc=True,
        label="q" + spec.label(backend.name),
        flops=spec.flops,
    )


def qdense(backend, p, a, w, w_zero, a_zero, a_type, bias, stage, shape):
    if w.ndim != 2 or not _supported(w, w_zero, a_zero, a_type, stage):
        return None
    step = describe(a.shape, w.shape, backend.name, "qmatmul")
    if isinstance(stage, Rescale):  # a float output: the qd8-f32 kernel
        n = w.shape[1]
        scale = np.broadcast_to(np.asarray(stage.multiplier, np.float32), (n,))
        packed = pack(w, np.rint(bias).astype(np.int64), scale, int(a_zero), float_bias=True)
        return p.emit(xnn_qs8_gemm_f32, [a], shape, packed=packed, columns=n, **step)
    return _emit(backend, p, a, w, bias, a_zero, stage, shape, **step)


def xnn_qs8_gemm_f32(x, packed, columns):
    # x: (..., K) int8 -> (..., N) float32
    out = np.empty(x.shape[:-1] + (columns,), np.float32)
    return xnn_kernels.qs8_gemm_f32(np.ascontiguousarray(x), packed, out)


def _geometry(spec, x_zero):
    """The conv's int8 indirection buffer (taps column-major; the padding reads x_zero)."""
    return xnn_kernels.qs8_dwconv_geometry(
        *spec.in_hwc, *spec.kernel, *spec.strides, *spec.dilations, *spec.pads, int(x_zero)
    )


def xnn_qs8_im2col_gemm(x, packed, columns, zero, lo, hi, geometry, window):
    # x: (N, H, W, C) int8 -> (N, Ho, Wo, Cout) int8: each pixel's kw*kh*C window gathered
    # (the padding is the input's zero point), then one GEMM over it
    cols = xnn_kernels.qs8_im2col(np.ascontiguousarray(x), geometry, np.empty((x.shape[0], *window), np.int8))
    return xnn_qs8_gemm(cols, packed, columns, zero, lo, hi)


def _emit(backend, p, x, w, bias, x_zero, stage, shape, kernel=None, **step):
    n = w.shape[1]
    scale = np.broadcast_to(np.asarray(stage.multiplier, np.float32), (n,))
    packed = pack(w, np.rint(bias).astype(np.int64), scale, int(x_zero))
    return p.emit(
        kernel or xnn_qs8_gemm,
        [x],
        shape,
        packed=packed,
        columns=n,
        zero=int(stage.zero),
        lo=int(stage.lo),
        hi=int(stage.hi),
        **step,
    )
