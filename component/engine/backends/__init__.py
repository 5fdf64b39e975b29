"""Backends: HOW a planned operation is computed. The lowerings (ops/) decide WHAT a node is --
a conv of a given kind, a product by constant weights, a layout change, a spatial mean -- and
ask the planner's one backend to emit it (`Planner.lower(what, ...)`). Two implementations:

- numpy (numpy_backend.py): the reference and the native path; it implements everything;
- xnnpack (xnnpack.py): XNNPACK's wasm SIMD microkernels in the `xnn_kernels` extension module
  that wasi/kernels cross-builds for the component (it exists only there). A method returns
  None for a form it has no kernel for, and the planner falls back to numpy's.

The interface, each method `(planner, ...) -> Value or None` (numpy's never returns None):

    conv(p, spec, w, scale)                     ops.conv.ConvSpec; w the file's (Cout, C/G, kh, kw),
                                                scale float64 (Cout,), a BatchNormalization to fold in
    dense(p, a, w, transposed, alpha, bias, shape)  a (..., K) activation times constant weights
                                                (N, K) if transposed else (K, N), * alpha, + bias (N,)
    qconv(p, spec, w, w_zero, x_zero, x_type, stage)  the integer conv (ops/quant.py): w the file's
                                                int8/uint8 weights, spec.bias int32, x_type the input's
                                                int8/uint8 (None: unknown); stage requantizes (quant_numpy)
    qdense(p, a, w, w_zero, a_zero, a_type, bias, stage, shape)  an int (..., K) activation times
                                                constant int (K, N) weights, + int32 bias, through the
                                                output stage
    to_nhwc(p, value, shape)                    a run-time (N, C, H, W) value stored NHWC
    mean_hw(p, x, shape)                        the mean over H and W of an NHWC value, kept NHWC
    max_pool(p, x, spec), avg_pool(p, x, spec)  MaxPool / AveragePool, ops.pool_spec.PoolSpec; NHWC out
    unary(p, x, op, *params)                    op: sigmoid, silu (x*sigmoid x), tanh, gelu (erf form),
                                                hardswish, or hardsigmoid with params (alpha, beta);
                                                element-wise, so in the value's stored layout
    channel_affine(p, x, scale, shift, bounds)  clip(x * scale + shift) per channel (axis 1 logically),
                                                scale, shift float32 (C,), bounds (lo, hi) or None
    channel_scale(p, x, gate)                   x (N, C, H, W) * gate (N, C, 1, 1), both run-time: the
                                                squeeze-and-excitation multiply; NHWC out
    softmax(p, x)                               over the last axis of a value in its logical layout
    layer_norm(p, x, scale, bias, epsilon)      over the last axis; scale, bias: constant (D,) or None
    matmul(p, a, b, shape)                      (..., M, K) x (..., K, N), two run-time operands
                                                (attention), leading dims broadcast to shape[:-2]
    transpose(p, x, perm)                       a contiguous copy of x.transpose(perm), logical layout

Which one a plan gets, decided once per model at plan time by load_model(data, kernels=...):
"xnnpack", "numpy", or "auto" (the default): XNNPACK's where the module imports, numpy's elsewhere.
"""

from ..errors import ModelError
from . import xnnpack
from .numpy_backend import NUMPY

CHOICES = ("auto", "xnnpack", "numpy")


def resolve(kernels):
    """The backend a plan asked for with `kernels` (one of CHOICES)."""
    if kernels not in CHOICES:
        raise ModelError(f"kernels must be one of {CHOICES}, not {kernels!r}")
    if kernels == "xnnpack" and not xnnpack.AVAILABLE:
        raise ModelError("kernels='xnnpack' asked for, but the xnn_kernels module is not importable here")
    return xnnpack.XNNPACK if kernels != "numpy" and xnnpack.AVAILABLE else NUMPY


__all__ = ["CHOICES", "NUMPY", "resolve"]
