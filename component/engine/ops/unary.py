"""Element-wise ops of one input: activations and math functions. Like the binary ops they
work in whatever layout their input is stored in, so they never add a layout change.

Each kernel is one numpy expression in the input's own dtype (float32 for activations);
numpy has no erf, so `erf` is computed here, in float32 (4.5x faster than in float64)."""

from math import factorial

import numpy as np

from ..buffers import makes_new_arrays
from .registry import fail, lowering

_SQRT_HALF = np.sqrt(0.5)
# erf's Taylor series at |x| <= 0.5 in powers of x^2 (8 terms: the next is below 1e-9), highest first
_ERF_SERIES = [np.float32((-1) ** n * 2 / np.sqrt(np.pi) / (factorial(n) * (2 * n + 1))) for n in range(7, -1, -1)]
# Numerical Recipes' Chebyshev fit of erfc(z) = t exp(-z^2 + poly(t)), t = 1 / (1 + z/2), highest first
_ERFC_FIT = [
    np.float32(c)
    for c in (
        0.17087277,
        -0.82215223,
        1.48851587,
        -1.13520398,
        0.27886807,
        -0.18628806,
        0.09678418,
        0.37409196,
        1.00002368,
        -1.26551223,
    )
]


def _horner(coefficients, x):
    y = coefficients[0]
    for c in coefficients[1:]:
        y = c + x * y
    return y


@makes_new_arrays
def erf(x):
    # float32 x: the series near 0 (relative accuracy where erf is small), 1 - erfc beyond
    # (fractional error of the fit < 1.2e-7); measured within 4e-7 relative of math.erf.
    z = np.abs(x)
    t = np.float32(1) / (np.float32(1) + np.float32(0.5) * z)
    large = np.float32(1) - t * np.exp(_horner(_ERFC_FIT, t) - z * z)
    near = np.minimum(z, np.float32(0.5))
    small = near * _horner(_ERF_SERIES, near * near)
    return np.copysign(np.where(z <= np.float32(0.5), small, large), x)


@makes_new_arrays
def sigmoid(x):
    # 1 / (1 + exp(-x)) in place: 5x faster than a two-branch form; exp overflowing to inf
    # for x < -88 gives 0, which is float32's sigmoid there anyway
    with np.errstate(over="ignore"):
        y = np.exp(-x)
    y += 1
    return np.reciprocal(y, out=y)


@makes_new_arrays
def hard_sigmoid(x, alpha, beta):
    return np.clip(x * np.float32(alpha) + np.float32(beta), 0, 1).astype(x.dtype)


@makes_new_arrays
def hard_swish(x):
    return x * np.clip(x / np.float32(6) + np.float32(0.5), 0, 1)


def leaky_relu(x, alpha):
    return np.where(x >= 0, x, x * np.float32(alpha))


def elu(x, alpha):
    return np.where(x > 0, x, np.float32(alpha) * np.expm1(np.minimum(x, 0)))


def softplus(x):
    return np.logaddexp(np.float32(0), x)


@makes_new_arrays
def gelu(x):
    return x * np.float32(0.5) * (1 + erf(x * np.float32(_SQRT_HALF)))


@makes_new_arrays
def gelu_tanh(x):
    return x * np.float32(0.5) * (1 + np.tanh(np.float32(np.sqrt(2 / np.pi)) * (x + np.float32(0.044715) * x**3)))


def reciprocal(x):
    return np.float32(1) / x if x.dtype == np.float32 else 1 / x


_PLAIN = {
    "Exp": np.exp,
    "Sqrt": np.sqrt,
    "Neg": np.negative,
    "Abs": np.abs,
    "Log": np.log,
    "Reciprocal": reciprocal,
    "Erf": erf,
    "Softplus": softplus,
    "Not": np.logical_not,
    "Round": np.round,
    "Floor": np.floor,
    "Ceil": np.ceil,
}
# Activations the backends compute (their `unary` op names): XNNPACK's kernels inside the component.
_ACTIVATIONS = {"Sigmoid": "sigmoid", "Tanh": "tanh", "HardSwish": "hardswish"}


def emit_unary(p, node, kernel, **params):
    x = p.input(node, 0)
    return p.emit(kernel, [x], x.shape, nhwc=x.nhwc, **params)


@lowering(*_PLAIN)
def lower_plain(p, node):
    """Element-wise, in the input's stored layout; Erf computed in float32 (within 4e-7)."""
    return emit_unary(p, node, _PLAIN[node.op_type])


@lowering(*_ACTIVATIONS)
def lower_activation(p, node):
    """Element-wise, in the input's stored layout; computed by the plan's backend."""
    return p.lower("unary", p.input(node, 0), _ACTIVATIONS[node.op_type])


@lowering("HardSigmoid")
def lower_hard_sigmoid(p, node):
    """alpha, beta."""
    return p.lower("unary", p.input(node, 0), "hardsigmoid", node.attrs.get("alpha", 0.2), node.attrs.get("beta", 0.5))


@lowering("LeakyRelu")
def lower_leaky_relu(p, node):
    """alpha."""
    return emit_unary(p, node, leaky_relu, alpha=node.attrs.get("alpha", 0.01))


@lowering("Elu")
def lower_elu(p, node):
    """alpha."""
    return emit_unary(p, node, elu, alpha=node.attrs.get("alpha", 1.0))


@lowering("Gelu")
def lower_gelu(p, node):
    """Opset 20: approximate none or tanh (older exports write Gelu as Erf, Mul, Add)."""
    approximate = node.attrs.get("approximate", "none")
    if approximate not in ("none", "tanh"):
        raise fail(node, f"unknown approximate '{approximate}'")
    if approximate == "none":
        return p.lower("unary", p.input(node, 0), "gelu")
    return emit_unary(p, node, gelu_tanh)
