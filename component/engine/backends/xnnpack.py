"""XNNPACK's implementation of the backend interface (backends/__init__.py), from the
xnn_kernels extension module (wasi/kernels/) that exists only inside the component. At plan
time the weights are packed into the microkernels' layout and the padding is turned into an
indirection buffer (bytes objects the module makes; they live in the plan, so in an embedded
model's snapshot); a step then makes one C call that writes into its Output (buffers.py), with
bias and clip fused.

    conv1x1            gemm: (N*H*W, Cin) x packed (Cin, Cout), + residual fused per row tile
    dwconv             XNNPACK's unipass kernels for 9 (3x3) and 25 (5x5) taps, and passes of
                       the 25-tap one for more (7x7: ConvNeXt); other tap counts: None
                       (numpy's shifted multiply-adds; an IGEMM with one channel per group
                       would be slower)
    conv               indirect GEMM (igemm) over the kh*kw taps, per group (under 4 channels
                       a group, as the stem: rows gathered per tile, then GEMM)
    dense              gemm, by constant weights packed from the file's layout; any leading dims
    activations        of a conv (Epilogue.activation) applied by its C call to the rows it has
                       just written; `unary` on a whole array: XNNPACK's vunary kernels
    channel_affine     a C loop: a BatchNormalization no conv took, with its Relu (activation.c)
    channel_scale      a C loop: the squeeze-and-excitation multiply by a per-channel gate
    max_pool, avg_pool C loops over a depthwise conv's indirection buffer (pool.c)
    softmax, layer_norm  along the last axis, row by row (rows.c)
    transpose          a C loop over the output's rows (transpose.c)
    matmul             two run-time operands with the same leading dims: the right one packed
                       per batch item at run time, then gemm (bmm.c)
    to_nhwc, mean_hw   C loops (numpy runs them slowly in wasm)
    qconv, qdense      the int8 GEMM for quantized 1x1 convs and products (xnnpack_int8.py)

Measured inside the component: docs/kernels.md.
"""

import numpy as np

from ..buffers import Output
from . import xnnpack_int8
from ..ops.linear import batched_matmul_flops, describe

try:
    import xnn_kernels
except ImportError:  # natively: only the component has the cross-built module
    xnn_kernels = None

AVAILABLE = xnn_kernels is not None
_NO_BOUNDS = (-np.inf, np.inf)


def xnn_gemm(x, *residual, packed, out, bounds, act=0):
    # x: (N, ..., Cin), residual: () or ((N, ..., Cout),) -> (N, ..., Cout)
    y = out.array(x.shape[0])
    xnn_kernels.gemm(np.ascontiguousarray(x), packed, y, *bounds, residual[0] if residual else None, act)
    return y


def xnn_dwconv(x, *residual, packed, geometry, out, bounds, act=0):
    # x: (N, H, W, C) -> (N, Ho, Wo, C); the geometry holds H, W, the taps, strides, pads
    y = out.array(x.shape[0])
    xnn_kernels.dwconv(np.ascontiguousarray(x), packed, geometry, y, *bounds, act)
    return _add(y, residual)


def xnn_conv(x, *residual, packed, geometry, out, bounds, act=0):
    # x: (N, H, W, C) -> (N, Ho, Wo, Cout)
    y = out.array(x.shape[0])
    xnn_kernels.conv(np.ascontiguousarray(x), packed, geometry, y, *bounds, act)
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


def xnn_pool(x, geometry, out, divisors=None):
    # x: (N, H, W, C) -> (N, Ho, Wo, C): the max, or with divisors (Ho, Wo) the average
    return xnn_kernels.pool(np.ascontiguousarray(x), geometry, out.array(x.shape[0]), divisors)


def xnn_unary(x, out, act, alpha=0.0, beta=0.0):
    # x: any -> same shape
    return xnn_kernels.unary(np.ascontiguousarray(x), out.array(x.shape[0]), act, alpha, beta)


def xnn_channel_affine(x, out, scale, shift, bounds):
    # x: (N, ..., C) channels last -> same shape
    return xnn_kernels.channel_affine(np.ascontiguousarray(x), scale, shift, out.array(x.shape[0]), *bounds)


def xnn_channel_scale(x, gate, out):
    # x: (N, H, W, C), gate: (N, 1, 1, C) -> x * gate
    return xnn_kernels.channel_scale(np.ascontiguousarray(x), np.ascontiguousarray(gate), out.array(x.shape[0]))


def xnn_bmm(a, b, out):
    # a: (..., M, K), b: (..., K, N), the same leading dims -> (..., M, N)
    return xnn_kernels.bmm(np.ascontiguousarray(a), np.ascontiguousarray(b), out.array(a.shape[0]))


def xnn_transpose(x, out, perm):
    # x: any -> contiguous x.transpose(perm); a run-time int or bool tensor (a mask): numpy's copy
    if x.dtype != np.float32:
        return np.ascontiguousarray(x.transpose(perm))
    return xnn_kernels.transpose(np.ascontiguousarray(x), out.array(x.shape[perm[0]]), perm)


def xnn_softmax(x, out):
    # x: (..., D) -> same shape
    return xnn_kernels.softmax(np.ascontiguousarray(x), out.array(x.shape[0]))


def xnn_layer_norm(x, out, epsilon, scale, bias):
    # x: (..., D), scale, bias: (D,) or None -> same shape
    return xnn_kernels.layer_norm(np.ascontiguousarray(x), out.array(x.shape[0]), epsilon, scale, bias)


def _stored(value):
    """The stored shape of a Value per batch item, or None if a dim is unknown at plan time (or
    it has no first dim to take the batch from)."""
    if not value.shape:
        return None
    shape = (value.shape[2], value.shape[3], value.shape[1]) if value.nhwc else value.shape[1:]
    return None if None in shape else shape


def _geometry(spec):
    """geometry arguments of the module: H, W, C, kh, kw, strides, dilations, pads."""
    return (*spec.in_hwc, *spec.kernel, *spec.strides, *spec.dilations, *spec.pads)


class XnnpackBackend:
    name = "xnnpack"

    def conv(self, p, spec, w, scale):
        """w: the file's (Cout, C/G, kh, kw) float32, scale: float64 (Cout,), folded while packing."""
        (kh, kw), (_, cout, ho, wo) = spec.kernel, spec.shape
        if spec.kind == "dwconv" and not xnn_kernels.dwconv_supports(kh * kw):
            return None
        w, scale = np.ascontiguousarray(w, np.float32), np.ascontiguousarray(scale, np.float64)
        common = dict(out=Output((ho, wo, cout)), bounds=spec.bounds or _NO_BOUNDS, act=_code(spec.activation))
        if spec.kind == "dwconv":
            return spec.emit(
                p,
                xnn_dwconv,
                self.name,
                packed=xnn_kernels.pack_dwconv(w, scale, spec.bias),
                geometry=xnn_kernels.dwconv_geometry(*_geometry(spec)),
                **common,
            )
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
        return p.emit(
            xnn_gemm,
            [a],
            shape,
            out=Output(shape[1:]),
            bounds=_NO_BOUNDS,
            packed=packed,
            **describe(a.shape, w.shape[::-1] if transposed else w.shape, self.name),
        )

    def qconv(self, p, spec, w, w_zero, x_zero, x_type, stage):
        return xnnpack_int8.qconv(self, p, spec, w, w_zero, x_zero, x_type, stage)

    def qdense(self, p, a, w, w_zero, a_zero, a_type, bias, stage, shape):
        return xnnpack_int8.qdense(self, p, a, w, w_zero, a_zero, a_type, bias, stage, shape)

    def to_nhwc(self, p, value, shape):
        if len(value.shape) != 4 or value.const is not None or None in shape[1:]:
            return None  # broadcast operands and constants: numpy's copy, folded at plan time
        return p.emit(
            xnn_to_nhwc, [value], shape, nhwc=True, label="to_nhwc[xnnpack]", out=Output((shape[2], shape[3], shape[1]))
        )

    def mean_hw(self, p, x, shape):
        if shape[1] is None:
            return None
        return p.emit(xnn_mean, [x], shape, nhwc=True, label="mean_hw[xnnpack]", out=Output((1, 1, shape[1])))

    def max_pool(self, p, x, spec):
        return self._pool(p, x, spec, "maxpool", {})

    def avg_pool(self, p, x, spec):
        return self._pool(p, x, spec, "avgpool", {"divisors": spec.divisors()})

    def _pool(self, p, x, spec, family, params):
        (h, w, c), (kh, kw), (ho, wo) = spec.in_hwc, spec.kernel, spec.out_hw
        top, left, bottom, right = spec.pads
        geometry = xnn_kernels.dwconv_geometry(
            h,
            w,
            c,
            kh,
            kw,
            *spec.strides,
            *spec.dilations,
            top,
            left,
            bottom + spec.overhang[0],
            right + spec.overhang[1],
        )
        return p.emit(
            xnn_pool,
            [p.nhwc(x)],
            spec.shape,
            nhwc=True,
            label=spec.label(family, self.name),
            geometry=geometry,
            out=Output((ho, wo, c)),
            **params,
        )

    def unary(self, p, x, op, *params):
        stored = _stored(x)
        if stored is None:
            return None
        return p.emit(
            xnn_unary,
            [x],
            x.shape,
            nhwc=x.nhwc,
            label=f"{op}[{self.name}]",
            out=Output(stored),
            act=_code(op),
            **dict(zip(("alpha", "beta"), params)),
        )

    def channel_affine(self, p, x, scale, shift, bounds):
        if not (x.nhwc or len(x.shape) == 2) or _stored(x) is None:  # channels innermost only
            return None
        return p.emit(
            xnn_channel_affine,
            [x],
            x.shape,
            nhwc=x.nhwc,
            label=f"affine[{self.name}]",
            out=Output(_stored(x)),
            scale=np.ascontiguousarray(scale, np.float32),
            shift=np.ascontiguousarray(shift, np.float32),
            bounds=bounds or _NO_BOUNDS,
        )

    def channel_scale(self, p, x, gate):
        if _stored(p.nhwc(x)) is None:
            return None
        return p.emit(
            xnn_channel_scale,
            [p.nhwc(x), p.nhwc(gate)],
            x.shape,
            nhwc=True,
            label=f"channel_scale[{self.name}]",
            out=Output(_stored(p.nhwc(x))),
        )

    def softmax(self, p, x):
        x = p.plain(x)
        if None in x.shape[1:]:
            return None
        return p.emit(xnn_softmax, [x], x.shape, label=f"softmax[{self.name}]", out=Output(x.shape[1:]))

    def layer_norm(self, p, x, scale, bias, epsilon):
        x = p.plain(x)
        if None in x.shape[1:]:
            return None
        scale, bias = (None if v is None else np.ascontiguousarray(v, np.float32) for v in (scale, bias))
        return p.emit(
            xnn_layer_norm,
            [x],
            x.shape,
            label=f"layernorm[{self.name}]",
            out=Output(x.shape[1:]),
            epsilon=float(epsilon),
            scale=scale,
            bias=bias,
        )

    def matmul(self, p, a, b, shape):
        a, b = p.plain(a), p.plain(b)
        if a.shape[:-2] != b.shape[:-2] or None in shape[1:]:  # broadcast batch dims: numpy's
            return None
        return p.emit(
            xnn_bmm,
            [a, b],
            shape,
            label=f"bmm[{self.name}]",
            out=Output(shape[1:]),
            flops=batched_matmul_flops(a.shape, shape),
        )

    def transpose(self, p, x, perm):
        x = p.plain(x)
        shape = tuple(x.shape[i] for i in perm)
        if len(perm) > 6 or None in shape[1:]:
            return None
        return p.emit(
            xnn_transpose,
            [x],
            shape,
            label=f"transpose[{self.name}]",
            out=Output(shape[1:]),
            perm=tuple(int(i) for i in perm),
        )


def _code(activation):
    """The module's code of an activation name (0: none)."""
    return xnn_kernels.ACTIVATIONS.index(activation or "none")


XNNPACK = XnnpackBackend()
