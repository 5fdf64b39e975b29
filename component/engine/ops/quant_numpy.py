"""Integer kernels in numpy: the reference for quantized (int8/uint8) graphs, and the path
wherever XNNPACK's integer kernels are absent.

Arithmetic as onnxruntime's CPU kernels (MLAS) do it, so that results match theirs:

- products accumulate exactly: activations and weights minus their zero points are summed as
  integers held in floats, so this IS int32 accumulation without numpy's slow integer matmul:
  in float32 where no sum can pass 2^24 (checked once, at plan time, from the weights:
  `exact_dtype`), else in float64 (53 bits: any int8 x int8 sum of up to 2^37 terms);
- requantization: the int32 accumulator converted to float32, times the float32 ratio
  x_scale * w_scale / y_scale (per output channel for per-channel weights), rounded half to
  even (np.rint, as nearbyintf in the default rounding mode), plus the output zero point,
  saturated to the output type (and to a fused Relu/Clip's range);
- element-wise ops (QLinearAdd, QLinearMul, pooling) in float32 on the dequantized values,
  rounded and saturated the same way; one-input ops (QLinearSigmoid, QLinearLeakyRelu, the
  requantization of a QLinearConcat input) as a 256-entry table made at plan time.

Weights stay int8/uint8 in the plan (4x smaller than float32; an embedded model's snapshot
holds them so); a step widens them for its product.
"""

from dataclasses import dataclass

import numpy as np

from ..buffers import makes_new_arrays
from .conv_numpy import _window, out_hw, pad_nhwc


@makes_new_arrays
def to_signed(x):
    # x: uint8 -> int8, x - 128 (plan.py: how uint8 tensors are stored)
    if x.dtype != np.uint8:
        raise TypeError(f"a uint8 tensor was expected, not {x.dtype}")
    return np.bitwise_xor(x, np.uint8(0x80)).view(np.int8)


@makes_new_arrays
def to_unsigned(x):
    # x: int8 (a uint8 tensor stored signed) -> uint8, x + 128
    if x.dtype != np.int8:
        raise TypeError(f"an int8 tensor was expected, not {x.dtype}")
    return np.bitwise_xor(x.view(np.uint8), np.uint8(0x80))


def quantize(x, scale, zero, dtype):
    # x: float, scale/zero broadcastable -> dtype, round half to even, saturated
    info = np.iinfo(dtype)
    y = np.rint(np.asarray(x, np.float32) / scale) + zero
    return np.clip(y, info.min, info.max).astype(dtype)


def centered(x, zero, dtype=np.float32):
    """x - zero in dtype, in one pass (numpy's own int8 -> float cast is ~6x slower)."""
    return np.subtract(x, np.asarray(zero, dtype), dtype=dtype)


def dequantize(x, scale, zero):
    # x: int, scale/zero broadcastable -> float32
    y = centered(x, zero)
    y *= scale
    return y


@dataclass(frozen=True)
class Requantize:
    """The output stage of an integer product: int32 accumulator -> int8/uint8."""

    multiplier: np.ndarray  # float32, scalar or per output channel (last axis)
    zero: int
    dtype: object
    lo: int  # saturation bounds, in the output's integer domain
    hi: int

    def __call__(self, acc):
        y = acc.astype(np.float32)
        y *= self.multiplier
        np.rint(y, out=y)
        y += self.zero
        np.clip(y, self.lo, self.hi, out=y)
        return y.astype(self.dtype)


@dataclass(frozen=True)
class Rescale:
    """The output stage of QGemm without an output scale: the accumulator as float32."""

    multiplier: np.ndarray

    def __call__(self, acc):
        return (acc.astype(np.float32) * self.multiplier).astype(np.float32)


class Accumulator:
    """The output stage of ConvInteger and MatMulInteger: the int32 accumulator itself."""

    def __call__(self, acc):
        return acc.astype(np.int32)


def exact_dtype(w, w_zero, bias):
    """float32 if every sum of products of an int8/uint8 activation minus its zero point (at
    most 255 in magnitude) by these weights (last axis: output channels), plus the bias, stays
    within float32's 24-bit integers; float64 otherwise. Weights constant, so decided once."""
    per_channel = np.abs(w.astype(np.int32) - w_zero).reshape(-1, w.shape[-1]).sum(axis=0)
    bound = 255 * int(per_channel.max(initial=0)) + float(np.abs(bias).max(initial=0))
    return np.float32 if bound < 2**24 else np.float64


def _widened(w, w_zero, dtype):
    """int weights -> dtype minus their zero point (per output channel: the last axis)."""
    return centered(w, w_zero, dtype)


def qconv(x, conv, w, w_zero, bias, x_zero, stage, dtype, **geometry):
    # x: (N, H, W, C) int, w: the conv kernel's weight layout, int -> stage(accumulator)
    acc = conv(
        centered(x, x_zero, dtype), w=_widened(w, w_zero, dtype), bias=bias.astype(dtype), bounds=None, **geometry
    )
    return stage(acc)


def qmatmul(a, b, b_zero, bias, a_zero, stage, dtype=np.float64):
    # a: (..., M, K) int, b: (..., K, N) int, bias: (N,) -> stage((a - a_zero) @ (b - b_zero) + bias)
    acc = np.matmul(centered(a, a_zero, dtype), _widened(b, b_zero, dtype))
    acc += bias.astype(dtype)
    return stage(acc)


def qadd(a, b, a_ratio, a_zero, b_ratio, b_zero, out):
    # a, b: int, broadcastable -> out(a_ratio * (a - a_zero) + b_ratio * (b - b_zero)), the ratios
    # a_scale / c_scale and b_scale / c_scale in float32, as MLAS's QLinearAdd computes
    y, t = centered(a, a_zero), centered(b, b_zero)
    y *= np.float32(a_ratio)
    t *= np.float32(b_ratio)
    return out(_add(y, t))


def _add(y, t):
    """y + t, into y when the result has y's shape (a pass and an allocation fewer)."""
    return np.add(y, t, out=y) if y.shape == np.broadcast_shapes(y.shape, t.shape) else y + t


def qmul(a, b, ratio, a_zero, b_zero, out):
    # a, b: int, broadcastable -> out((a - a_zero) * (b - b_zero) * ratio), ratio = a_scale * b_scale / c_scale
    y = centered(a, a_zero) * centered(b, b_zero)
    y *= np.float32(ratio)
    return out(y)


def qmean(x, axes, x_zero, ratio, out):
    # x: int -> mean over axes (kept), requantized by out; ratio = x_scale / y_scale
    total = x.sum(axis=axes, keepdims=True, dtype=np.float64) - x_zero * _count(x, axes)
    return out(total.astype(np.float32) * np.float32(ratio / _count(x, axes)))


def _count(x, axes):
    return int(np.prod([x.shape[a] for a in axes]))


def qavgpool(x, x_zero, ratio, out, kernel, pads, strides, count_include_pad):
    # x: (N, H, W, C) int -> (N, Ho, Wo, C): window means of (x - x_zero), * ratio, requantized
    xp = pad_nhwc(centered(x, x_zero), pads)
    hw = out_hw(xp.shape[1:3], kernel, strides, (1, 1))
    taps = [(i, j) for i in range(kernel[0]) for j in range(kernel[1])]
    total = sum(_window(xp, i, j, hw, strides, (1, 1)) for i, j in taps)
    if count_include_pad:
        count = np.float32(len(taps))
    else:  # how many real pixels each window covers
        ones = pad_nhwc(np.ones((1, *x.shape[1:3], 1), np.float32), pads)
        count = sum(_window(ones, i, j, hw, strides, (1, 1)) for i, j in taps)
    return out(total / count * np.float32(ratio))


class Quantizer:
    """float32 -> int by a scale and zero point, rounded half to even and saturated (the last
    step of the element-wise kernels), as `quantize` computes it."""

    def __init__(self, scale, zero, dtype):
        self.scale, self.zero, self.dtype = np.float32(scale), zero, dtype

    def __call__(self, y):
        # y: a float32 array the step made: quantized in place (the passes allocate nothing)
        info, y = np.iinfo(self.dtype), np.asarray(y, np.float32)
        if self.scale != 1:
            y /= self.scale
        np.rint(y, out=y)
        y += np.float32(self.zero)
        np.clip(y, info.min, info.max, out=y)
        return y.astype(self.dtype)


def lookup(x, table):
    # x: int8/uint8 -> table[x]: a one-input quantized op as its 256 answers, by bit pattern
    return np.take(table, x.view(np.uint8))


def lookup_table(function, in_dtype, in_scale, in_zero, out):
    """The 256 answers of out(function(dequantized x)), indexed by x's bit pattern (uint8)."""
    codes = np.arange(256, dtype=np.uint8).view(in_dtype)
    return out(function(dequantize(codes, np.float32(in_scale), in_zero)))
