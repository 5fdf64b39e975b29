"""numpy's implementation of the backend interface (backends/__init__.py): the reference, the
only path natively, and the fallback inside the component for forms XNNPACK's module lacks.
Weights are laid out once, at plan time, in the layout each kernel wants (Cout last, where
`_scaled` folds a BatchNormalization's scale in one pass):

    pointwise  conv_numpy.conv_pointwise   (Cin, Cout)
    depthwise  conv_numpy.conv_depthwise   (kh, kw, C)
    conv       conv_numpy.conv_im2col      (G, kh*kw*C/G, Cout/G)
"""

from dataclasses import replace

import numpy as np

from .. import layout
from ..ops import conv_numpy, nn_numpy, pool_numpy, quant_numpy
from ..ops.linear import batched_matmul_flops, describe, matmul
from ..ops import norm, reduce
from ..ops import shape as shape_ops
from ..ops.reduce import mean


def _scaled(w, scale):
    """w * scale (broadcast) into a new C-contiguous float32 array: one pass that lays the
    weights out for a kernel and folds in a BatchNormalization's float64 scale. The product is
    taken in float64 and rounded once, as a float64 fold would, but numpy casts it through
    small buffers, so no weight-sized float64 temporary is made."""
    out = np.empty(np.broadcast_shapes(w.shape, scale.shape), np.float32)
    return np.multiply(w, scale, out=out, dtype=np.float64, casting="unsafe")


def _layout(spec, w):
    """The numpy kernel of the conv, its geometry parameters, and the weights in its layout:
    a view (Cout last, per group), the shape that view takes once contiguous, and the shape
    a per-output-channel vector takes to broadcast over the view."""
    cout, cin_group, kh, kw = w.shape
    geometry = dict(pads=spec.pads, strides=spec.strides, dilations=spec.dilations)
    if spec.kind == "dwconv":  # (C, 1, kh, kw) -> (kh, kw, C)
        return conv_numpy.conv_depthwise, geometry, w[:, 0].transpose(1, 2, 0), (kh, kw, cout), (cout,)
    if spec.kind == "conv1x1":  # (Cin, Cout)
        return conv_numpy.conv_pointwise, {}, w.reshape(cout, cin_group).T, (cin_group, cout), (cout,)
    # (Cout, C/G, kh, kw) -> (G, kh, kw, C/G, Cout/G), then (G, kh*kw*C/G, Cout/G): rows in the
    # order im2col lays out patches.
    groups = spec.groups
    view = w.reshape(groups, cout // groups, cin_group, kh, kw).transpose(0, 3, 4, 2, 1)
    return (
        conv_numpy.conv_im2col,
        dict(geometry, kernel=(kh, kw)),
        view,
        (groups, kh * kw * cin_group, cout // groups),
        (groups, 1, 1, 1, cout // groups),
    )


class NumpyBackend:
    name = "numpy"

    def conv(self, p, spec, w, scale):
        if spec.activation is None:
            return self._conv(p, spec, w, scale)
        return self.unary(p, self._conv(p, replace(spec, activation=None), w, scale), spec.activation)

    def _conv(self, p, spec, w, scale):
        """The conv with bias, clip and residual (fuse.py never gives one an activation and a residual)."""
        kernel, geometry, view, shape, per_channel = _layout(spec, w)
        w = _scaled(view, scale.reshape(per_channel)).reshape(shape)  # a free reshape: fresh and C-contiguous
        return spec.emit(p, kernel, self.name, w=w, bias=spec.bias, bounds=spec.bounds, **geometry)

    def qconv(self, p, spec, w, w_zero, x_zero, x_type, stage):
        """The integer conv (ops/quant.py): w the file's int8/uint8 (Cout, C/G, kh, kw), kept
        so in the plan; w_zero its zero points, (Cout,) or scalar; spec.bias the int32 bias."""
        kernel, geometry, view, shape, _ = _layout(spec, w)
        w_zero = np.broadcast_to(np.asarray(w_zero, np.float64), (w.shape[0],))
        w_zero = w_zero.reshape(shape[0], 1, shape[2]) if spec.kind == "conv" else w_zero.reshape(-1)
        w = np.ascontiguousarray(view).reshape(shape)
        return p.emit(
            quant_numpy.qconv,
            [spec.x],
            spec.shape,
            nhwc=True,
            label="q" + spec.label(self.name),
            flops=spec.flops,
            conv=kernel,
            w=w,
            w_zero=w_zero,
            bias=spec.bias,
            x_zero=x_zero,
            stage=stage,
            dtype=quant_numpy.exact_dtype(w, w_zero, spec.bias),
            **geometry,
        )

    def qdense(self, p, a, w, w_zero, a_zero, a_type, bias, stage, shape):
        """(..., K) int activation times constant int (K, N) weights (zero points w_zero, (N,)
        or scalar), + int32 bias (N,), through the output stage (ops/quant_numpy.py)."""
        return p.emit(
            quant_numpy.qmatmul,
            [a, p.constant(np.ascontiguousarray(w))],
            shape,
            b_zero=np.asarray(w_zero, np.float64),
            bias=bias,
            a_zero=a_zero,
            stage=stage,
            dtype=quant_numpy.exact_dtype(w, w_zero, bias),
            **describe(a.shape, w.shape, self.name, "qmatmul"),
        )

    def dense(self, p, a, w, transposed, alpha, bias, shape):
        w = np.asarray(w, np.float32)
        w = np.ascontiguousarray(w.T if transposed else w)  # (K, N)
        if alpha != 1.0:
            w = (w * np.float32(alpha)).astype(np.float32)
        inputs = [a, p.constant(w)] + ([p.constant(bias)] if bias.any() else [])
        return p.emit(matmul, inputs, shape, **describe(a.shape, w.shape, self.name))

    def to_nhwc(self, p, value, shape):
        return p.emit(layout.to_nhwc, [value], shape, nhwc=True)

    def mean_hw(self, p, x, shape):
        return p.emit(mean, [x], shape, nhwc=True, axes=(1, 2), keepdims=True)

    def max_pool(self, p, x, spec):
        return p.emit(
            pool_numpy.max_pool,
            [p.nhwc(x)],
            spec.shape,
            nhwc=True,
            label=spec.label("maxpool", self.name),
            **_pool_geometry(spec),
        )

    def avg_pool(self, p, x, spec):
        return p.emit(
            pool_numpy.avg_pool,
            [p.nhwc(x)],
            spec.shape,
            nhwc=True,
            label=spec.label("avgpool", self.name),
            divisors=spec.divisors()[:, :, None],
            **_pool_geometry(spec),
        )

    def unary(self, p, x, op, *params):
        return p.emit(
            nn_numpy.unary, [x], x.shape, nhwc=x.nhwc, label=f"{op}[{self.name}]", op=op, params=tuple(params)
        )

    def channel_affine(self, p, x, scale, shift, bounds):
        rank, (lo, hi) = len(x.shape), bounds or (-np.inf, np.inf)
        return p.emit(
            nn_numpy.affine,
            [x],
            x.shape,
            nhwc=x.nhwc,
            label=f"affine[{self.name}]",
            scale=layout.channel_vector(scale, rank, x.nhwc),
            shift=layout.channel_vector(shift, rank, x.nhwc),
            lo=lo,
            hi=hi,
        )

    def channel_scale(self, p, x, gate):
        return p.emit(np.multiply, [p.nhwc(x), p.nhwc(gate)], x.shape, nhwc=True)

    def softmax(self, p, x):
        x = p.plain(x)
        return p.emit(reduce.softmax, [x], x.shape, label=f"softmax[{self.name}]", axes=(len(x.shape) - 1,))

    def layer_norm(self, p, x, scale, bias, epsilon):
        x = p.plain(x)
        params = [p.constant(v) for v in (scale, bias) if v is not None]
        return p.emit(
            norm.layer_norm,
            [x, *params],
            x.shape,
            label=f"layernorm[{self.name}]",
            axes=(len(x.shape) - 1,),
            epsilon=np.float32(epsilon),
        )

    def matmul(self, p, a, b, shape):
        a, b = p.plain(a), p.plain(b)
        return p.emit(matmul, [a, b], shape, label=f"bmm[{self.name}]", flops=batched_matmul_flops(a.shape, shape))

    def transpose(self, p, x, perm):
        x = p.plain(x)
        return p.emit(
            shape_ops.transpose, [x], tuple(x.shape[i] for i in perm), label=f"transpose[{self.name}]", perm=tuple(perm)
        )


def _pool_geometry(spec):
    return dict(
        kernel=spec.kernel,
        strides=spec.strides,
        pads=spec.pads,
        dilations=spec.dilations,
        overhang=spec.overhang,
        out_hw=spec.out_hw,
    )


NUMPY = NumpyBackend()
