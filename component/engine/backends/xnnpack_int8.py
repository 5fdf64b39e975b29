"""XNNPACK's integer kernels (wasi/kernels/qs8.c) for the quantized ops (ops/quant.py): the
qs8-qc8w GEMM -- int8 activations, int8 weights per output channel with zero point 0, int32
accumulation, fp32 requantization rounded half to even, as numpy's reference (quant_numpy.py)
and onnxruntime compute it -- for

    qconv   1x1 convs (stride 1, no padding, one group): (N*H*W, Cin) x packed (Cin, Cout)
    qdense  products by constant (K, N) weights, any leading dims

with int8 output. Everything else returns None and runs on numpy's integer kernels: uint8
activations or outputs (the qu8 kernels are not built), weights with non-zero zero points,
depthwise and kxk convs, int32 (ConvInteger, MatMulInteger) and float (QGemm) outputs.

The weights are packed here, at plan time, into the kernel's layout (qs8.c) and kept as bytes
in the plan: int8, so an embedded model's snapshot holds 1 byte a weight.
"""
import numpy as np

from ..ops.linear import describe

try:
    import xnn_kernels
except ImportError:  # natively: only the component has the cross-built module
    xnn_kernels = None

NR, KR = 4, 8  # the kernel's tile: 4 output channels, k-blocks of 8


def pack(w, bias, scale, x_zero):
    """w (K, N) int8, bias (N,) int32 values, scale (N,) float32 -> the kernel's bytes."""
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
    return np.concatenate([corrected.reshape(blocks, NR).view(np.int8), weights,
                           scales.reshape(blocks, NR).view(np.int8)], axis=1).tobytes()


def xnn_qs8_gemm(x, packed, columns, zero, lo, hi):
    # x: (..., K) int8 -> (..., N) int8
    out = np.empty(x.shape[:-1] + (columns,), np.int8)
    return xnn_kernels.qs8_gemm(np.ascontiguousarray(x), packed, out, zero, lo, hi)


def _supported(w, w_zero, x_zero, stage):
    """What the qs8-qc8w kernel computes: int8 in, int8 weights with zero point 0, int8 out."""
    return (w.dtype == np.int8 and not np.any(w_zero) and np.ndim(x_zero) == 0 and -128 <= x_zero <= 127
            and getattr(stage, "dtype", None) is np.int8)


def qconv(backend, p, spec, w, w_zero, x_zero, stage):
    if spec.kind != "conv1x1" or not _supported(w, w_zero, x_zero, stage):
        return None
    cout, cin = w.shape[:2]
    return _emit(backend, p, spec.x, w.reshape(cout, cin).T, spec.bias, x_zero, stage, spec.shape, nhwc=True,
                 label="q" + spec.label(backend.name), flops=spec.flops)


def qdense(backend, p, a, w, w_zero, a_zero, bias, stage, shape):
    if w.ndim != 2 or not _supported(w, w_zero, a_zero, stage):
        return None
    return _emit(backend, p, a, w, bias, a_zero, stage, shape, **describe(a.shape, w.shape, backend.name, "qmatmul"))


def _emit(backend, p, x, w, bias, x_zero, stage, shape, **step):
    n = w.shape[1]
    scale = np.broadcast_to(np.asarray(stage.multiplier, np.float32), (n,))
    packed = pack(w, np.rint(bias).astype(np.int64), scale, int(x_zero))
    return p.emit(xnn_qs8_gemm, [x], shape, packed=packed, columns=n, zero=int(stage.zero), lo=int(stage.lo),
                  hi=int(stage.hi), **step)
