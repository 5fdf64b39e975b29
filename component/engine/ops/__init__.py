"""Operators: each module holds numpy kernels and the lowerings that plan them."""
from . import conv, elementwise, linear, quant, reduce, tensor  # noqa: F401  (they register lowerings)
from .registry import LOWERINGS

__all__ = ["LOWERINGS"]
