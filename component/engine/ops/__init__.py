"""Operators: each module holds numpy kernels and the lowerings that plan them (registered on import)."""

from . import compare, conv, einsum, elementwise, linear, norm, pool, quant, reduce, reductions, shape, tensor, unary  # noqa: F401
from .registry import LOWERINGS

__all__ = ["LOWERINGS"]
