"""op_type -> lowering, plus the shape arithmetic several lowerings share.

A lowering is `lower(planner, node) -> Value`: it reads the node's inputs and attributes,
checks and computes the output shape, prepares constants (weights) in the layout its kernel
wants, and emits the kernel call through `planner.emit`. Kernels are plain numpy functions
defined next to their lowering.
"""

from math import prod

import numpy as np

from ..errors import ModelError

LOWERINGS: dict = {}


def lowering(*op_types):
    def register(function):
        for op_type in op_types:
            LOWERINGS[op_type] = function
        return function

    return register


def fail(node, message):
    return ModelError(f"{node.op_type} node '{node.name}': {message}")


def broadcast(node, *shapes):
    """numpy/ONNX multidirectional broadcasting of shapes whose dims may be None (unknown)."""
    rank = max(len(s) for s in shapes)
    result = []
    for dims in zip(*((1,) * (rank - len(s)) + tuple(s) for s in shapes)):
        sizes = {d for d in dims if d is not None and d != 1}
        if len(sizes) > 1:
            raise fail(node, f"shapes {list(shapes)} do not broadcast")
        result.append(sizes.pop() if sizes else None if None in dims else 1)
    return tuple(result)


def size(dims):
    """Product of dims, or None if any is unknown."""
    return None if None in dims else prod(dims)


def axis(node, value, rank):
    """A possibly negative axis -> 0..rank-1."""
    if not -rank <= value < rank:
        raise fail(node, f"axis {value} out of range for rank {rank}")
    return value % rank


def scalar(value):
    """A float from a number or a one-element array (exporters often write ONNX's scalar
    inputs, like Clip's bounds, with shape [1])."""
    return float(np.asarray(value).reshape(()))
