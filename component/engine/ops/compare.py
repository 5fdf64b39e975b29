"""Comparisons, logic, selection and the variadic element-wise ops, with ONNX broadcasting.
In exported transformers these mostly compute masks and shapes from constants, so they fold
at plan time (Planner.emit); their kernels keep integer and bool dtypes as they are."""

from functools import reduce

import numpy as np

from .elementwise import emit_broadcast
from .registry import lowering

_COMPARE = {
    "Equal": np.equal,
    "Less": np.less,
    "Greater": np.greater,
    "LessOrEqual": np.less_equal,
    "GreaterOrEqual": np.greater_equal,
    "And": np.logical_and,
    "Or": np.logical_or,
    "Xor": np.logical_xor,
}
_VARIADIC = {"Min": np.minimum, "Max": np.maximum, "Sum": np.add}


def where(condition, x, y):
    return np.where(condition, x, y)


def mod(a, b, fmod):
    # fmod=1: the sign of the dividend (C fmod); fmod=0: the sign of the divisor (integers only)
    return np.fmod(a, b) if fmod else np.mod(a, b)


def variadic(*xs, ufunc):
    # Min/Max/Sum of any number of broadcast inputs
    return reduce(ufunc, xs)


def _inputs(p, node):
    return [p.input(node, i) for i in range(len(node.inputs)) if node.inputs[i]]


@lowering(*_COMPARE)
def lower_compare(p, node):
    """Comparisons and logic, broadcast; bool out (int64 and bool inputs fold at plan time)."""
    return emit_broadcast(p, node, _COMPARE[node.op_type], _inputs(p, node))


@lowering(*_VARIADIC)
def lower_variadic(p, node):
    """Any number of broadcast inputs (Sum is float or integer addition)."""
    inputs = _inputs(p, node)
    if len(inputs) == 1:
        return inputs[0]
    return emit_broadcast(p, node, variadic, inputs, ufunc=_VARIADIC[node.op_type])


@lowering("Where")
def lower_where(p, node):
    """Three broadcast inputs; an NHWC operand keeps the result NHWC."""
    return emit_broadcast(p, node, where, _inputs(p, node))


@lowering("Mod")
def lower_mod(p, node):
    """fmod=0 (sign of the divisor, integers) and fmod=1 (C fmod)."""
    return emit_broadcast(p, node, mod, _inputs(p, node), fmod=node.attrs.get("fmod", 0))
