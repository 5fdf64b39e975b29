"""Operators: each module holds numpy kernels and the lowerings that plan them."""
from . import conv, elementwise, linear, reduce, tensor  # noqa: F401  (they register lowerings)
from . import pool_spec  # noqa: F401  (the pooling lowerings' spec: imported at build time, so bundled)
from .registry import LOWERINGS

__all__ = ["LOWERINGS"]
