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
from ..ops import conv_numpy, nn_numpy, pool_numpy
from ..ops.linear import describe, matmul
from ..ops.reduce import mean


def _scaled(w, scale):
    """w * scale (broadcast) into a new C-contiguous float32 array: one pass that lays the
    weights out for a kernel and folds in a BatchNormalization's float64 scale. The product is
    taken in float64 and rounded once, as a float64 fold would, but numpy casts it through
    small buffers, so no weight-sized float64 temporary is made."""
    out = np.empty(np.broadcast_shapes(w.shape, scale.shape), np.float32)
    return np.multiply(w, scale, out=out, dtype=np.float64, casting="unsafe")


class NumpyBackend:
    name = "numpy"

    def conv(self, p, spec, w, scale):
        if spec.activation is None:
            return self._conv(p, spec, w, scale)
        return self.unary(p, self._conv(p, replace(spec, activation=None), w, scale), spec.activation)

    def _conv(self, p, spec, w, scale):
        """The conv with bias, clip and residual (fuse.py never gives one an activation and a residual)."""
        cout, cin_group, kh, kw = w.shape
        geometry = dict(pads=spec.pads, strides=spec.strides, dilations=spec.dilations)
        epilogue = dict(bias=spec.bias, bounds=spec.bounds)
        if spec.kind == "dwconv":
            w = _scaled(w[:, 0].transpose(1, 2, 0), scale)  # (C, 1, kh, kw) -> (kh, kw, C)
            return spec.emit(p, conv_numpy.conv_depthwise, self.name, w=w, **geometry, **epilogue)
        if spec.kind == "conv1x1":
            w = _scaled(w.reshape(cout, cin_group).T, scale)  # (Cin, Cout)
            return spec.emit(p, conv_numpy.conv_pointwise, self.name, w=w, **epilogue)
        # (Cout, C/G, kh, kw) -> (G, kh*kw*C/G, Cout/G), rows in the order im2col lays out patches.
        groups = spec.groups
        w = w.reshape(groups, cout // groups, cin_group, kh, kw).transpose(0, 3, 4, 2, 1)  # (G, kh, kw, C/G, Cout/G)
        w = _scaled(w, scale.reshape(groups, 1, 1, 1, cout // groups))
        w = w.reshape(groups, kh * kw * cin_group, cout // groups)  # free: w is fresh and C-contiguous
        return spec.emit(p, conv_numpy.conv_im2col, self.name, w=w, kernel=(kh, kw), **geometry, **epilogue)

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
        return p.emit(pool_numpy.max_pool, [p.nhwc(x)], spec.shape, nhwc=True, label=spec.label("maxpool", self.name),
                      **_pool_geometry(spec))

    def avg_pool(self, p, x, spec):
        return p.emit(pool_numpy.avg_pool, [p.nhwc(x)], spec.shape, nhwc=True, label=spec.label("avgpool", self.name),
                      divisors=spec.divisors()[:, :, None], **_pool_geometry(spec))

    def unary(self, p, x, op, *params):
        return p.emit(nn_numpy.unary, [x], x.shape, nhwc=x.nhwc, label=f"{op}[{self.name}]", op=op,
                      **dict(zip(("alpha", "beta"), params)))

    def channel_affine(self, p, x, scale, shift, bounds):
        rank, (lo, hi) = len(x.shape), bounds or (-np.inf, np.inf)
        return p.emit(nn_numpy.affine, [x], x.shape, nhwc=x.nhwc, label=f"affine[{self.name}]",
                      scale=layout.channel_vector(scale, rank, x.nhwc), shift=layout.channel_vector(shift, rank, x.nhwc),
                      lo=lo, hi=hi)

    def channel_scale(self, p, x, gate):
        return p.emit(np.multiply, [p.nhwc(x), p.nhwc(gate)], x.shape, nhwc=True)

    def softmax(self, p, x):
        x = p.plain(x)
        return p.emit(nn_numpy.softmax_last, [x], x.shape, label=f"softmax[{self.name}]")

    def layer_norm(self, p, x, scale, bias, epsilon):
        x = p.plain(x)
        return p.emit(nn_numpy.layer_norm_last, [x], x.shape, label=f"layernorm[{self.name}]",
                      scale=scale, bias=bias, epsilon=epsilon)

    def matmul(self, p, a, b, shape):
        a, b = p.plain(a), p.plain(b)
        return p.emit(nn_numpy.batched_matmul, [a, b], shape, label=f"bmm[{self.name}]",
                      flops=nn_numpy.batched_matmul_flops(a.shape, shape))

    def transpose(self, p, x, perm):
        x = p.plain(x)
        return p.emit(nn_numpy.transpose, [x], tuple(x.shape[i] for i in perm), label=f"transpose[{self.name}]",
                      perm=tuple(perm))


def _pool_geometry(spec):
    return dict(kernel=spec.kernel, strides=spec.strides, pads=spec.pads, dilations=spec.dilations,
                overhang=spec.overhang, out_hw=spec.out_hw)


NUMPY = NumpyBackend()
