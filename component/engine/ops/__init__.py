"""Operators: each module holds numpy kernels and the lowerings that plan them."""
from . import (compare, conv, einsum, elementwise, linear, norm, pool, reduce, reductions,  # noqa: F401
               shape, tensor, unary)  # (they register lowerings)
from .registry import LOWERINGS

__all__ = ["LOWERINGS"]
