"""XNNPACK's implementation of the backend interface (backends/__init__.py), from the
xnn_kernels extension module (wasi/kernels/) that exists only inside the component. At plan
time the weights are packed into the microkernels' layout and the padding is turned into an
indirection buffer (bytes objects the module makes; they live in the plan, so in an embedded
model's snapshot); a step then makes one C call that writes into its Output (buffers.py), with
bias and clip fused.

    conv1x1            gemm: (N*H*W, Cin) x packed (Cin, Cout), + residual fused per row tile
    dwconv             XNNPACK's unipass kernels for 9 (3x3) and 25 (5x5) taps; other tap
                       counts: None (numpy's shifted multiply-adds; an IGEMM with one channel
                       per group would be slower)
    conv               indirect GEMM (igemm) over the kh*kw taps, per group (under 4 channels
                       a group, as the stem: rows gathered per tile, then GEMM)
    dense              gemm, by constant weights packed from the file's layout; any leading dims
    to_nhwc, mean_hw   C loops (numpy runs them slowly in wasm)
    qconv, qdense      the int8 GEMM for quantized 1x1 convs and products (xnnpack_int8.py)

Measured inside the component: docs/performance.md ("Kernels").
"""
import numpy as np

from ..buffers import Output
from . import xnnpack_int8
from ..ops.linear import describe

try:
    import xnn_kernels
except ImportError:  # natively: only the component has the cross-built module
    xnn_kernels = None

AVAILABLE = xnn_kernels is not None
_NO_BOUNDS = (-np.inf, np.inf)


def xnn_gemm(x, *residual, packed, out, bounds):
    # x: (N, ..., Cin), residual: () or ((N, ..., Cout),) -> (N, ..., Cout)
    y = out.array(x.shape[0])
    xnn_kernels.gemm(np.ascontiguousarray(x), packed, y, *bounds, *residual)
    return y


def xnn_dwconv(x, *residual, packed, geometry, out, bounds):
    # x: (N, H, W, C) -> (N, Ho, Wo, C); the geometry holds H, W, the taps, strides, pads
    y = out.array(x.shape[0])
    xnn_kernels.dwconv(np.ascontiguousarray(x), packed, geometry, y, *bounds)
    return _add(y, residual)


def xnn_conv(x, *residual, packed, geometry, out, bounds):
    # x: (N, H, W, C) -> (N, Ho, Wo, Cout)
    y = out.array(x.shape[0])
    xnn_kernels.conv(np.ascontiguousarray(x), packed, geometry, y, *bounds)
    return _add(y, residual)


def _add(y, residual):
    """The residual of a fused Add, where the kernel has no epilogue for it: in place, while
    y is still in cache from the kernel's writes."""
    if residual:
        np.add(y, residual[0], out=y)
    return y


def xnn_to_nhwc(x, out):
    # x: (N, C, H, W) -> (N, H, W, C)
    if x.dtype != np.float32:  # never seen (the graph input is float32); numpy's copy keeps the dtype
        return np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    return xnn_kernels.nchw_to_nhwc(np.ascontiguousarray(x), out.array(x.shape[0]))


def xnn_mean(x, out):
    # x: (N, H, W, C) -> (N, 1, 1, C)
    return xnn_kernels.mean_hw(np.ascontiguousarray(x), out.array(x.shape[0]))


def _geometry(spec):
    """geometry arguments of the module: H, W, C, kh, kw, strides, dilations, pads."""
    return (*spec.in_hwc, *spec.kernel, *spec.strides, *spec.dilations, *spec.pads)


class XnnpackBackend:
    name = "xnnpack"

    def conv(self, p, spec, w, scale):
        """w: the file's (Cout, C/G, kh, kw) float32, scale: float64 (Cout,), folded while packing."""
        (kh, kw), (_, cout, ho, wo) = spec.kernel, spec.shape
        if spec.kind == "dwconv" and kh * kw not in xnn_kernels.DWCONV_TAPS:
            return None
        w, scale = np.ascontiguousarray(w, np.float32), np.ascontiguousarray(scale, np.float64)
        common = dict(out=Output((ho, wo, cout)), bounds=spec.bounds or _NO_BOUNDS)
        if spec.kind == "dwconv":
            return spec.emit(p, xnn_dwconv, self.name, packed=xnn_kernels.pack_dwconv(w, scale, spec.bias),
                             geometry=xnn_kernels.dwconv_geometry(*_geometry(spec)), **common)
        packed = xnn_kernels.pack_conv(w, scale, spec.bias, spec.groups)
        if spec.kind == "conv1x1":
            return spec.emit(p, xnn_gemm, self.name, packed=packed, **common)
        geometry = xnn_kernels.conv_geometry(*_geometry(spec), spec.groups)
        return spec.emit(p, xnn_conv, self.name, packed=packed, geometry=geometry, **common)

    def dense(self, p, a, w, transposed, alpha, bias, shape):
        if None in shape[1:]:  # the Output's shape per batch item must be known at plan time
            return None
        w = np.ascontiguousarray(w, np.float32)
        if transposed:  # (N, K) is a 1x1 conv's (Cout, Cin) layout
            n, k = w.shape
            packed = xnn_kernels.pack_conv(w.reshape(n, k, 1, 1), np.full(n, alpha, np.float64), bias, 1)
        elif alpha == 1.0:
            packed = xnn_kernels.pack_gemm(w, bias)
        else:
            return None
        return p.emit(xnn_gemm, [a], shape, out=Output(shape[1:]), bounds=_NO_BOUNDS, packed=packed,
                      **describe(a.shape, w.shape[::-1] if transposed else w.shape, self.name))

    def qconv(self, p, spec, w, w_zero, x_zero, stage):
        return xnnpack_int8.qconv(self, p, spec, w, w_zero, x_zero, stage)

    def qdense(self, p, a, w, w_zero, a_zero, bias, stage, shape):
        return xnnpack_int8.qdense(self, p, a, w, w_zero, a_zero, bias, stage, shape)

    def to_nhwc(self, p, value, shape):
        if len(value.shape) != 4 or value.const is not None or None in shape[1:]:
            return None  # broadcast operands and constants: numpy's copy, folded at plan time
        return p.emit(xnn_to_nhwc, [value], shape, nhwc=True, label="to_nhwc[xnnpack]",
                      out=Output((shape[2], shape[3], shape[1])))

    def mean_hw(self, p, x, shape):
        if shape[1] is None:
            return None
        return p.emit(xnn_mean, [x], shape, nhwc=True, label="mean_hw[xnnpack]", out=Output((1, 1, shape[1])))


XNNPACK = XnnpackBackend()
