"""Which implementation a plan's heavy kernels get, decided once per model at plan time:

- "xnnpack": XNNPACK's wasm SIMD microkernels, in the `xnn_kernels` extension module that
  wasi/kernels cross-builds for the component (it exists only there; see its build.sh for
  the measured reasons). Inside the component they run a MobileNetV2 pass several times
  faster than numpy's loops;
- "numpy": the numpy kernels (ops/conv_numpy.py and friends), the reference, and the only
  path natively;
- "auto" (the default): XNNPACK's where the module imports, numpy's elsewhere.

load_model(data, kernels=...) takes the choice, so that tests can run both paths inside the
component and compare them.
"""
from .errors import ModelError

try:
    import xnn_kernels
except ImportError:  # natively: only the component has the cross-built module
    xnn_kernels = None

CHOICES = ("auto", "xnnpack", "numpy")


def resolve(kernels):
    """The xnn_kernels module for a plan that uses XNNPACK's kernels, or None for numpy's."""
    if kernels not in CHOICES:
        raise ModelError(f"kernels must be one of {CHOICES}, not {kernels!r}")
    if kernels == "xnnpack" and xnn_kernels is None:
        raise ModelError("kernels='xnnpack' asked for, but the xnn_kernels module is not importable here")
    return None if kernels == "numpy" else xnn_kernels
