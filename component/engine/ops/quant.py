"""Quantized operators (QOperator form): QuantizeLinear, DequantizeLinear, QLinearConv,
ConvInteger, QLinearMatMul, MatMulInteger, and the com.microsoft ops onnxruntime's quantizer
and the model zoo's int8 classifiers use (MICROSOFT_OPS). QDQ graphs reach these lowerings
too: qdq.py rewrites their DequantizeLinear -> op -> QuantizeLinear groups into these ops.

Quantized activations are int8/uint8 arrays, NHWC like float ones; their scales and zero
points are plan-time constants (every quantizer writes them as initializers). A uint8 tensor
is stored as int8, each value minus 128, and its zero point read minus 128 (`_stored`,
plan.py's `signed`): (x - zero) is the same number, so the arithmetic is unchanged and the
integer kernels -- XNNPACK's qs8 ones too -- only ever see int8. uint8 weights are turned so
at plan time (a uint8 weight with zero point 128 is then a symmetric int8 one). Weights stay
integers in the plan. Heavy products go through the plan's backend (`qconv`, `qdense`);
the arithmetic is quant_numpy.py's.
"""

from dataclasses import replace

import numpy as np

from ..layout import stored_axes
from . import quant_numpy as q
from .conv import ConvSpec, Epilogue, conv_geometry, conv_pads
from .conv_numpy import out_hw
from .elementwise import emit_broadcast
from .linear import describe, transpose
from .registry import axis, fail, lowering
from .tensor import concat

# The com.microsoft operators this engine runs; any other op of that domain is unsupported.
# QuantizeLinear and DequantizeLinear are both ONNX's and com.microsoft's (the same meaning:
# onnxruntime's quantizer writes the latter for 4- and 16-bit types below opset 21).
MICROSOFT_TOO = frozenset({"QuantizeLinear", "DequantizeLinear"})
MICROSOFT_OPS = frozenset(
    {
        "QLinearAdd",
        "QLinearMul",
        "QLinearGlobalAveragePool",
        "QLinearAveragePool",
        "QGemm",
        "QLinearSigmoid",
        "QLinearLeakyRelu",
        "QLinearConcat",
    }
)


def _params(p, node, scale, zero, what, types=(np.int8, np.uint8)):
    """(scale float32, zero point int or int array, integer dtype) of a quantized tensor, from
    the node's inputs `scale` and `zero` (an omitted zero point is 0 as uint8, as ONNX says)."""
    s = p.const(node, scale, f"{what} scale")
    z = p.const(node, zero, f"{what} zero point")
    z = np.zeros((), np.uint8) if z is None else z
    if z.dtype not in types and what != "accumulator":
        names = " and ".join(np.dtype(t).name for t in types)
        raise fail(node, f"{what} zero point of type {z.dtype}: only {names} are supported")
    if s is None or np.any(np.asarray(s) <= 0):
        raise fail(node, f"{what} scale must be given and positive")
    zero = int(z) if z.size == 1 else z.reshape(-1).astype(np.int32)
    return np.asarray(s, np.float32).reshape(-1) if s.size > 1 else np.float32(s.reshape(())), zero, z.dtype.type


def _stored(params):
    """(scale, zero point, type) of a tensor as the plan stores it: uint8 as int8, its zero
    point minus 128."""
    scale, zero, dtype = params
    return (scale, zero - 128, np.int8) if dtype is np.uint8 else params


def _qinput(p, node, i, params):
    """Input i as the integer kernels read it, and its (scale, zero point, type) as stored;
    params are the file's (type None: an omitted zero point, 0 of the input's own type)."""
    x = p.stored_input(node, i)
    scale, zero, dtype = params
    if dtype is np.uint8 or (dtype is None and x.signed):
        return p.signed(x), (scale, zero - 128, np.int8)
    return (p.unsigned(x) if x.signed else x), params


def _made(value, params):
    """The output of an op whose output the file types as params say (uint8: stored signed)."""
    return replace(value, signed=True) if params[2] is np.uint8 else value


def _signed_weights(w, zero):
    """Constant weights and their zero points as the kernels take them: uint8 ones as int8."""
    return (q.to_signed(w), zero - 128) if w.dtype == np.uint8 else (w, zero)


def _integer_zero(p, node, i):
    """ConvInteger's and MatMulInteger's optional zero point i as params (no scale)."""
    z = p.const(node, i, "zero point")
    if z is None:
        return None, 0, None
    return None, int(z.reshape(-1)[0]) if z.size == 1 else z.reshape(-1).astype(np.int32), z.dtype.type


def _requantize(multiplier, zero, dtype, scale, bounds):
    """Requantize to (scale, zero, dtype), saturating to a fused Relu/Clip's float bounds too."""
    info = np.iinfo(dtype)
    lo, hi = info.min, info.max
    if bounds is not None:  # quantization is monotonic: clipping before it is clipping after it
        lo, hi = (
            max(lo, int(q.quantize(bounds[0], scale, zero, dtype))),
            min(hi, int(q.quantize(bounds[1], scale, zero, dtype))),
        )
    return q.Requantize(np.asarray(multiplier, np.float32), zero, dtype, lo, hi)


def _per_axis(node, values, x, attr_axis):
    """A per-axis scale or zero point shaped to broadcast along logical axis `attr_axis` of x."""
    if np.size(values) == 1:  # per tensor, whatever its rank (onnxruntime takes a [1] so too)
        return np.asarray(values).reshape(())
    rank = len(x.shape)
    k = stored_axes([axis(node, attr_axis, rank)], x.nhwc)[0]
    return np.asarray(values).reshape((-1,) + (1,) * (rank - k - 1))


# QuantizeLinear's outputs: 8- and 16-bit (16-bit ones, which no integer kernel here takes,
# are dequantized into float32 ops: qdq.py leaves their groups as they are).
_Q_TYPES = (np.int8, np.uint8, np.int16, np.uint16)
_OUTPUT_DTYPE = {2: np.uint8, 3: np.int8, 4: np.uint16, 5: np.int16}  # TensorProto codes


def _blocks(node, values, x, k):
    """A scale or zero point along logical axis k of x, one per `block_size` values along it
    (blocked quantization, opset 21), repeated to one per value."""
    size = node.attrs["block_size"]
    rank = len(x.shape)
    k = axis(node, k, rank)
    values = np.asarray(values)
    if size < 0 or values.ndim != rank or values.shape[k] != -(-x.shape[k] // size):
        raise fail(node, f"block_size {size}: its scale's shape {values.shape} does not block input {x.shape}")
    return np.repeat(values, size, axis=k).take(range(x.shape[k]), axis=k)


def _along(node, values, x, k):
    """A scale or zero point (per tensor, per axis k, or per block along k) shaped to broadcast
    against x as stored."""
    if node.attrs.get("block_size", 0):
        if x.const is None or x.nhwc:
            raise fail(node, "blocked quantization of a computed tensor is not supported (of weights it is)")
        return _blocks(node, values, x, k)  # a constant as the file has it: the logical layout
    return _per_axis(node, values, x, k)


@lowering("QuantizeLinear")
def lower_quantize(p, node):
    """To int8/uint8, or int16/uint16 (which float32 ops read after a DequantizeLinear); per
    tensor, per axis, or per block (block_size) of a constant. ONNX's and com.microsoft's."""
    x = p.input(node, 0)
    zero_name = node.inputs[2] if len(node.inputs) > 2 else ""
    if node.attrs.get("output_dtype", 0) in (21, 22) or p.four_bit(zero_name):
        raise fail(node, "4-bit outputs are not supported (4-bit weights are, as DequantizeLinear's input)")
    scale, zero, dtype = _params(p, node, 1, 2, "output", _Q_TYPES)
    if not zero_name:
        dtype = _OUTPUT_DTYPE.get(node.attrs.get("output_dtype", 2))
        if dtype is None:
            raise fail(node, "only 8- and 16-bit integer outputs are supported")
    out = (scale, zero, dtype)
    _, zero, stored = _stored(out)
    k = node.attrs.get("axis", 1)
    made = p.emit(
        q.quantize,
        [x],
        x.shape,
        nhwc=x.nhwc,
        scale=_along(node, scale, x, k),
        zero=_along(node, zero, x, k),
        dtype=stored,
    )
    return _made(made, out)


@lowering("DequantizeLinear")
def lower_dequantize(p, node):
    """From 8-, 16- or 4-bit integers (int4/uint4 weights) or int32; per tensor, per axis, or
    per block (block_size) of a constant. ONNX's and com.microsoft's. The weights and int32
    biases that no quantized op took fold at plan time."""
    x = p.stored_input(node, 0)
    s, z = p.const(node, 1, "scale"), p.const(node, 2, "zero point")
    k = node.attrs.get("axis", 1)
    zero = 0 if z is None else z.astype(np.int32)
    zero = zero - 128 if x.signed else zero
    return p.emit(
        q.dequantize,
        [x],
        x.shape,
        nhwc=x.nhwc,
        scale=_along(node, np.asarray(s, np.float32), x, k),
        zero=_along(node, zero, x, k),
    )


def _lower_qconv(p, node, x, w, bias, x_zero, x_type, w_zero, stage):
    shape, groups, pads, strides, dilations = conv_geometry(node, x.shape, w.shape)
    if np.ndim(x_zero):
        raise fail(node, "a per-channel input zero point is not supported")
    cout = shape[1]
    bias = np.zeros(cout) if bias is None else np.asarray(bias, np.float64).reshape(cout)
    spec = ConvSpec(
        p.nhwc(x),
        None,
        shape,
        (x.shape[2], x.shape[3], x.shape[1]),
        w.shape[2:],
        groups,
        pads,
        strides,
        dilations,
        bias,
        None,
    )
    return p.lower("qconv", spec, w, w_zero, x_zero, x_type, stage)


@lowering("QLinearConv")
def lower_qlinear_conv(p, node):
    x, (x_scale, x_zero, x_type) = _qinput(p, node, 0, _params(p, node, 1, 2, "input"))
    w_scale, w_zero, _ = _params(p, node, 4, 5, "weight")
    w, w_zero = _signed_weights(p.const(node, 3, "weight"), w_zero)
    out = _params(p, node, 6, 7, "output")
    y_scale, y_zero, y_dtype = _stored(out)
    multiplier = np.float32(x_scale) * np.float32(w_scale) / np.float32(y_scale)  # as onnxruntime: in float32
    stage = _requantize(multiplier, y_zero, y_dtype, y_scale, (node.fused or Epilogue()).bounds)
    return _made(_lower_qconv(p, node, x, w, p.const(node, 8, "bias"), x_zero, x_type, w_zero, stage), out)


@lowering("ConvInteger")
def lower_conv_integer(p, node):
    x, (_, x_zero, x_type) = _qinput(p, node, 0, _integer_zero(p, node, 2))
    w, w_zero = _signed_weights(p.const(node, 1, "weight"), _integer_zero(p, node, 3)[1])
    return _lower_qconv(p, node, x, w, None, x_zero, x_type, w_zero, q.Accumulator())


def _lower_qproduct(p, node, a, b, a_zero, a_type, b_zero, bias, stage):
    """a (..., K) x b (K, N) in integers, + bias (N,), through `stage`; a_type: a's integer
    type as its zero point says (None: not given)."""
    a = p.plain(a)
    if np.ndim(a_zero):
        raise fail(node, "a per-row zero point of A is not supported")
    n = b.shape[-1]
    bias = np.zeros(n) if bias is None else np.broadcast_to(np.asarray(bias, np.float64).reshape(-1), (n,))
    shape = a.shape[:-1] + (n,)
    if b.const is not None and len(b.shape) == 2:
        return p.lower("qdense", a, b.const, b_zero, a_zero, a_type, bias, stage, shape)
    b_zero = np.asarray(b_zero, np.float64)
    return p.emit(
        q.qmatmul,
        [a, p.plain(b)],
        shape,
        b_zero=b_zero,
        bias=bias,
        a_zero=a_zero,
        stage=stage,
        **describe(a.shape, b.shape, "numpy", "qmatmul"),
    )


@lowering("QLinearMatMul")
def lower_qlinear_matmul(p, node):
    a, (a_scale, a_zero, a_type) = _qinput(p, node, 0, _params(p, node, 1, 2, "A"))
    b, (b_scale, b_zero, _) = _qinput(p, node, 3, _params(p, node, 4, 5, "B"))
    out = _params(p, node, 6, 7, "output")
    y_scale, y_zero, y_dtype = _stored(out)
    multiplier = np.float32(a_scale) * np.float32(b_scale) / np.float32(y_scale)
    stage = _requantize(multiplier, y_zero, y_dtype, y_scale, (node.fused or Epilogue()).bounds)
    return _made(_lower_qproduct(p, node, a, b, a_zero, a_type, b_zero, None, stage), out)


@lowering("MatMulInteger")
def lower_matmul_integer(p, node):
    a, (_, a_zero, a_type) = _qinput(p, node, 0, _integer_zero(p, node, 2))
    b, (_, b_zero, _) = _qinput(p, node, 1, _integer_zero(p, node, 3))
    return _lower_qproduct(p, node, a, b, a_zero, a_type, b_zero, None, q.Accumulator())


@lowering("QGemm")
def lower_qgemm(p, node):
    """com.microsoft QGemm: alpha * (A - a_zero)(B - b_zero) + C, C int32 of scale
    alpha * a_scale * b_scale; quantized to (y_scale, y_zero) if given, else float32."""
    a, (a_scale, a_zero, a_type) = _qinput(p, node, 0, _params(p, node, 1, 2, "A"))
    b, (b_scale, b_zero, _) = _qinput(p, node, 3, _params(p, node, 4, 5, "B"))
    a = p.plain(a)
    alpha = np.float32(node.attrs.get("alpha", 1.0))
    if node.attrs.get("transA", 0):
        a = replace(p.emit(transpose, [a], a.shape[::-1]), signed=a.signed)
    if b.const is None:
        raise fail(node, "B must be a constant")
    w = b.const.T if node.attrs.get("transB", 0) else b.const  # (K, N)
    multiplier = alpha * np.float32(a_scale) * np.float32(b_scale)
    out = (None, None, None)  # float32 output
    if len(node.inputs) > 7 and node.inputs[7]:
        out = _params(p, node, 7, 8, "output")
        y_scale, y_zero, y_dtype = _stored(out)
        bounds = (node.fused or Epilogue()).bounds
        stage = _requantize(multiplier / np.float32(y_scale), y_zero, y_dtype, y_scale, bounds)
    else:
        stage = q.Rescale(np.asarray(multiplier, np.float32))
    made = _lower_qproduct(p, node, a, p.constant(w), a_zero, a_type, b_zero, p.const(node, 6, "C"), stage)
    return _made(made, out)


@lowering("QLinearAdd", "QLinearMul")
def lower_qlinear_binary(p, node):
    a, (a_scale, a_zero, _) = _qinput(p, node, 0, _params(p, node, 1, 2, "A"))
    b, (b_scale, b_zero, _) = _qinput(p, node, 3, _params(p, node, 4, 5, "B"))
    params = _params(p, node, 6, 7, "output")
    c_scale, c_zero, c_dtype = _stored(params)
    out = q.Quantizer(1.0, c_zero, c_dtype)
    if node.op_type == "QLinearAdd":
        made = emit_broadcast(
            p,
            node,
            q.qadd,
            [a, b],
            a_ratio=a_scale / c_scale,
            a_zero=a_zero,
            b_ratio=b_scale / c_scale,
            b_zero=b_zero,
            out=out,
        )
    else:
        made = emit_broadcast(
            p, node, q.qmul, [a, b], ratio=a_scale * b_scale / c_scale, a_zero=a_zero, b_zero=b_zero, out=out
        )
    return _made(made, params)


@lowering("QLinearGlobalAveragePool")
def lower_qlinear_global_average_pool(p, node):
    x, (x_scale, x_zero, _) = _qinput(p, node, 0, _params(p, node, 1, 2, "input"))
    out = _params(p, node, 3, 4, "output")
    y_scale, y_zero, y_dtype = _stored(out)
    params = dict(x_zero=x_zero, ratio=x_scale / y_scale, out=q.Quantizer(1.0, y_zero, y_dtype))
    rank = len(x.shape)
    if node.attrs.get("channels_last", 0):  # (N, *spatial, C) as the file says
        x = p.plain(x)
        shape, axes, nhwc = (x.shape[0],) + (1,) * (rank - 2) + x.shape[-1:], tuple(range(1, rank - 1)), False
    else:
        shape, axes, nhwc = x.shape[:2] + (1,) * (rank - 2), (1, 2) if x.nhwc else tuple(range(2, rank)), x.nhwc
    return _made(p.emit(q.qmean, [x], shape, nhwc=nhwc, axes=axes, **params), out)


@lowering("QLinearAveragePool")
def lower_qlinear_average_pool(p, node):
    x, (x_scale, x_zero, _) = _qinput(p, node, 0, _params(p, node, 1, 2, "input"))
    if len(x.shape) != 4 or node.attrs.get("channels_last", 0) or node.attrs.get("ceil_mode", 0):
        raise fail(node, "only 2-D NCHW pooling without ceil_mode is supported")
    out = _params(p, node, 3, 4, "output")
    y_scale, y_zero, y_dtype = _stored(out)
    kernel = tuple(node.attrs["kernel_shape"])
    strides = tuple(node.attrs.get("strides", (1, 1)))
    pads = conv_pads(node, x.shape[2:], kernel, strides, (1, 1))
    ho, wo = out_hw((x.shape[2] + pads[0] + pads[2], x.shape[3] + pads[1] + pads[3]), kernel, strides, (1, 1))
    made = p.emit(
        q.qavgpool,
        [p.nhwc(x)],
        (x.shape[0], x.shape[1], ho, wo),
        nhwc=True,
        x_zero=x_zero,
        ratio=x_scale / y_scale,
        out=q.Quantizer(1.0, y_zero, y_dtype),
        kernel=kernel,
        pads=pads,
        strides=strides,
        count_include_pad=node.attrs.get("count_include_pad", 0),
    )
    return _made(made, out)


def _sigmoid(x):
    return (1.0 / (1.0 + np.exp(-x.astype(np.float64)))).astype(np.float32)


def _emit_lookup(p, node, x, function, in_params, out_params):
    """A one-input op of an int8/uint8 tensor as the table of its 256 answers; x and in_params
    as stored (_qinput), out_params as the file types the output."""
    (in_scale, in_zero, in_dtype), out = in_params, q.Quantizer(*_stored(out_params))
    table = q.lookup_table(function, in_dtype, in_scale, in_zero, out)
    return _made(p.emit(q.lookup, [x], x.shape, nhwc=x.nhwc, table=table), out_params)


@lowering("QLinearSigmoid", "QLinearLeakyRelu")
def lower_qlinear_activation(p, node):
    if node.op_type == "QLinearSigmoid":
        function = _sigmoid
    else:
        alpha = np.float32(node.attrs.get("alpha", 0.01))
        function = lambda x: np.where(x >= 0, x, x * alpha).astype(np.float32)  # noqa: E731
    if node.fused is not None:  # a Clip of a QDQ graph (qdq.py): LeakyRelu of alpha 1 and these bounds
        activation, (lo, hi) = function, node.fused.bounds
        function = lambda x: np.clip(activation(x), lo, hi)  # noqa: E731
    x, in_params = _qinput(p, node, 0, _params(p, node, 1, 2, "input"))
    return _emit_lookup(p, node, x, function, in_params, _params(p, node, 3, 4, "output"))


@lowering("QLinearConcat")
def lower_qlinear_concat(p, node):
    """Inputs Y_scale, Y_zero_point, then (X, X_scale, X_zero_point) per tensor: each tensor
    requantized to the output's parameters (a table; nothing when they are the same)."""
    out_params = _params(p, node, 0, 1, "output")
    xs = []
    for i in range(2, len(node.inputs), 3):
        x, in_params = _qinput(p, node, i, _params(p, node, i + 1, i + 2, "input"))
        same = all(np.array_equal(a, b) for a, b in zip(in_params, _stored(out_params)))
        xs.append(x if same else _emit_lookup(p, node, x, lambda v: v, in_params, out_params))
    rank = len(xs[0].shape)
    k = axis(node, node.attrs.get("axis", 0), rank)
    nhwc = rank == 4 and all(x.nhwc for x in xs)
    xs = xs if nhwc else [p.plain(x) for x in xs]
    shape = list(xs[0].shape)
    sizes = [x.shape[k] for x in xs]
    shape[k] = None if None in sizes else sum(sizes)
    return _made(p.emit(concat, xs, shape, nhwc=nhwc, axis=stored_axes([k], nhwc)[0]), out_params)
