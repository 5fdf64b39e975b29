"""Native tests of component/engine against onnxruntime, on the same ONNX bytes.

Single-op graphs are built with onnx.helper for every op and attribute form the engine
supports; full models come from models/ and tests/ (skipped only when their builder or its
dependencies are missing). Every comparison asserts max |engine - onnxruntime| <= 1e-4 and
prints the difference (see it with `pytest -rP`).
"""

import sys
import tracemalloc
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "component"))

from engine import ModelError, load_model  # noqa: E402
from engine.onnx_reader import read_tensor  # noqa: E402
from engine.protobuf import DecodeError, Message, read_varint  # noqa: E402

TOLERANCE = 1e-4
RNG = np.random.default_rng(20261126)


# --- helpers -----------------------------------------------------------------------------------
def random(*shape, scale=1.0):
    return (scale * RNG.standard_normal(shape)).astype(np.float32)


def make_model(nodes, input_shape, initializers=None, opset=13, output="y", input_name="x"):
    """A one-input, one-output float32 model; initializers: {name: ndarray}."""
    graph = helper.make_graph(
        nodes,
        "test",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, input_shape)],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(np.asarray(v), k) for k, v in (initializers or {}).items()],
    )
    return helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", opset)],
        ir_version=8,
        producer_name="test_engine",
        producer_version="1",
    )


def onnxruntime_run(data, x):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def compare(model, x, label=""):
    """Runs the engine and onnxruntime on the model's bytes; returns (engine model, max diff)."""
    data = model.SerializeToString() if isinstance(model, onnx.ModelProto) else model
    engine = load_model(data)
    x_before = x.copy()
    got = engine.run(x)
    want = onnxruntime_run(data, x)
    assert np.array_equal(x, x_before), "the engine modified its input"
    assert got.dtype == np.float32 and got.shape == want.shape, (got.shape, want.shape)
    diff = float(np.abs(got - want).max()) if want.size else 0.0
    print(f"{label} max |engine - onnxruntime| = {diff:.3g} (|output| up to {np.abs(want).max():.3g})")
    assert diff <= TOLERANCE
    return engine, diff


def kernels(engine):
    """Names of the kernels in the engine's plan, in order (white-box checks of fusions)."""
    return [step.kernel.__name__ for step in engine.plan.steps]


def conv_node(x, w, y, b=None, **attrs):
    return helper.make_node("Conv", [x, w] + ([b] if b else []), [y], name=f"conv_{y}", **attrs)


# --- protobuf and reader -------------------------------------------------------------------------
def test_varints():
    assert read_varint(b"\x96\x01", 0) == (150, 2)
    assert read_varint(b"\x00\xac\x02", 1) == (300, 3)
    with pytest.raises(DecodeError):
        read_varint(b"\x80\x80", 0)  # continuation bit on the last byte
    with pytest.raises(DecodeError):
        read_varint(b"\xff" * 11, 0)


def test_message_fields_match_protobuf_encoding():
    node = helper.make_node(
        "Conv", ["a", "b"], ["c"], name="n", pads=[-1, 2, 300, 0], alpha=0.25, auto_pad="SAME_UPPER"
    )
    msg = Message(node.SerializeToString())
    assert msg.strings(1) == ["a", "b"] and msg.string(4) == "Conv" and msg.string(3) == "n"
    attrs = {a.string(1): a for a in msg.messages(5)}
    assert attrs["pads"].ints(8) == [-1, 2, 300, 0]  # negative int64: 10-byte varint
    assert attrs["alpha"].float(2) == 0.25
    assert attrs["auto_pad"].bytes(4) == b"SAME_UPPER"
    with pytest.raises(DecodeError, match="wire type"):
        attrs["alpha"].int(2)  # a float (fixed 32-bit) read as a varint


@pytest.mark.parametrize(
    "dtype",
    [
        TensorProto.FLOAT,
        TensorProto.DOUBLE,
        TensorProto.INT64,
        TensorProto.INT32,
        TensorProto.INT8,
        TensorProto.UINT8,
        TensorProto.BOOL,
        TensorProto.FLOAT16,
        TensorProto.UINT64,
        TensorProto.INT16,
    ],
)
@pytest.mark.parametrize("raw", [False, True])
def test_tensor_data_fields(dtype, raw):
    """Initializers come as raw_data or in the typed fields (float_data, int32_data, ...)."""
    np_dtype = helper.tensor_dtype_to_np_dtype(dtype)
    if np_dtype.kind == "f":
        values = RNG.standard_normal((2, 3)).astype(np_dtype)
    elif np_dtype.kind == "b":
        values = RNG.integers(0, 2, (2, 3)).astype(bool)
    else:
        info = np.iinfo(np_dtype)
        values = RNG.integers(max(info.min, -1000), min(info.max, 1000), (2, 3)).astype(np_dtype)
    if raw:
        tensor = numpy_helper.from_array(values, "t")
    else:
        vals = values.view(np.uint16).ravel() if dtype == TensorProto.FLOAT16 else values.ravel()
        tensor = helper.make_tensor("t", dtype, values.shape, vals.tolist())
    got = read_tensor(Message(tensor.SerializeToString()))
    assert got.dtype == np_dtype and got.shape == values.shape
    np.testing.assert_array_equal(got, numpy_helper.to_array(tensor))


def test_info():
    model = make_model(
        [conv_node("x", "w", "c", "b"), helper.make_node("Relu", ["c"], ["y"])],
        ["N", 3, 8, 8],
        {"w": random(4, 3, 3, 3), "b": random(4)},
        opset=12,
    )
    helper.set_model_props(model, {"labels": "a.txt", "input_size": "8"})
    engine = load_model(model.SerializeToString())
    assert engine.input_shape == (None, 3, 8, 8)
    assert engine.output_shape == (None, 4, 6, 6)
    assert engine.info == {
        "producer": "test_engine 1",
        "ir_version": 8,
        "opset": 12,
        "inputs": [{"name": "x", "dtype": "float32", "shape": ["N", 3, 8, 8]}],
        "outputs": [{"name": "y", "dtype": "float32", "shape": None}],
        "op_counts": {"Conv": 1, "Relu": 1},
        "output_op": "Relu",
        "parameters": 4 * 3 * 3 * 3 + 4,
        "metadata": {"labels": "a.txt", "input_size": "8"},
    }


# --- Conv ------------------------------------------------------------------------------------------
CONV_CASES = {
    # name: (input (N, C, H, W), weight (Cout, C/group, kh, kw), attributes)
    "3x3": ((2, 4, 9, 9), (6, 4, 3, 3), dict(pads=[1, 1, 1, 1])),
    "stem 3x3 s2": ((2, 3, 16, 16), (8, 3, 3, 3), dict(strides=[2, 2], pads=[1, 1, 1, 1])),
    "asymmetric pads": ((1, 3, 10, 11), (5, 3, 3, 3), dict(strides=[2, 2], pads=[0, 1, 2, 0])),
    "no pads, rectangular kernel": ((2, 3, 7, 9), (4, 3, 3, 1), {}),
    "pointwise": ((2, 16, 7, 7), (24, 16, 1, 1), {}),
    "pointwise s2": ((2, 16, 7, 7), (8, 16, 1, 1), dict(strides=[2, 2])),
    "depthwise 3x3": ((2, 12, 9, 9), (12, 1, 3, 3), dict(group=12, pads=[1, 1, 1, 1])),
    "depthwise 3x3 s2": ((2, 12, 10, 10), (12, 1, 3, 3), dict(group=12, strides=[2, 2], pads=[1, 1, 1, 1])),
    "depthwise 5x5 asymmetric": ((1, 8, 11, 11), (8, 1, 5, 5), dict(group=8, strides=[2, 2], pads=[1, 2, 2, 1])),
    "depthwise multiplier 2": ((2, 4, 6, 6), (8, 1, 3, 3), dict(group=4, pads=[1, 1, 1, 1])),
    "grouped 2": ((2, 8, 6, 6), (12, 4, 3, 3), dict(group=2, pads=[1, 1, 1, 1])),
    "grouped pointwise 4": ((2, 8, 5, 5), (8, 2, 1, 1), dict(group=4)),
    "dilated": ((1, 4, 12, 12), (4, 4, 3, 3), dict(dilations=[2, 2], pads=[2, 2, 2, 2])),
    "dilated depthwise": ((1, 4, 12, 12), (4, 1, 3, 3), dict(group=4, dilations=[2, 1], pads=[2, 1, 2, 1])),
    "SAME_UPPER s2 even": ((1, 3, 10, 10), (4, 3, 3, 3), dict(auto_pad="SAME_UPPER", strides=[2, 2])),
    "SAME_UPPER s2 odd": ((1, 3, 11, 11), (4, 3, 4, 4), dict(auto_pad="SAME_UPPER", strides=[2, 2])),
    "SAME_LOWER s2": ((1, 3, 10, 10), (4, 3, 4, 4), dict(auto_pad="SAME_LOWER", strides=[2, 2])),
    "SAME_UPPER depthwise 5x5": ((1, 6, 9, 9), (6, 1, 5, 5), dict(auto_pad="SAME_UPPER", group=6, strides=[2, 2])),
    "VALID": ((1, 3, 10, 10), (4, 3, 3, 3), dict(auto_pad="VALID", strides=[2, 2])),
    "NOTSET": ((1, 3, 10, 10), (4, 3, 3, 3), dict(auto_pad="NOTSET", pads=[1, 0, 1, 0])),
}


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("case", CONV_CASES)
def test_conv(case, bias):
    x_shape, w_shape, attrs = CONV_CASES[case]
    init = {"w": random(*w_shape)}
    if bias:
        init["b"] = random(w_shape[0])
    model = make_model(
        [conv_node("x", "w", "y", "b" if bias else None, kernel_shape=list(w_shape[2:]), **attrs)], list(x_shape), init
    )
    compare(model, random(*x_shape), case)


def test_conv_kernel_choice():
    """Depthwise and 1x1 convs take their own kernels, everything else im2col."""
    nodes = [
        conv_node("x", "w1", "a", group=8, pads=[1, 1, 1, 1]),
        conv_node("a", "w2", "b2"),
        conv_node("b2", "w3", "y", strides=[2, 2]),
    ]
    init = {
        "w1": random(8, 1, 3, 3, scale=0.3),
        "w2": random(16, 8, 1, 1, scale=0.3),
        "w3": random(4, 16, 3, 3, scale=0.3),
    }
    engine, _ = compare(make_model(nodes, [1, 8, 8, 8], init), random(1, 8, 8, 8))
    assert kernels(engine) == ["to_nhwc", "conv_depthwise", "conv_pointwise", "conv_im2col", "to_nchw"]


def test_kernels_option():
    """Natively only numpy's kernels exist: asking for XNNPACK's is a clear error."""
    model = make_model([conv_node("x", "w", "y")], [1, 3, 4, 4], {"w": random(2, 3, 1, 1)}).SerializeToString()
    assert kernels(load_model(model, kernels="numpy")) == kernels(load_model(model))
    with pytest.raises(ModelError, match="xnn_kernels"):
        load_model(model, kernels="xnnpack")
    with pytest.raises(ModelError, match="kernels must be one of"):
        load_model(model, kernels="fast")


def test_steps_describe_themselves():
    """Each conv step carries its family, geometry, implementation and FLOPs per batch item
    (what the bench's profile reports); other steps their kernel's name."""
    engine = load_model(own_mobilenet(2).SerializeToString())
    steps = engine.plan.steps
    by_label = {step.label: step for step in steps}
    stem = by_label["conv3x3s2[numpy] 32x32x3->16x16x16"]
    assert stem.flops == 2 * 16 * 16 * 16 * 3 * 3 * 3
    dw = by_label["dwconv3x3s2[numpy] 16x16x64->8x8x64"]
    assert dw.flops == 2 * 8 * 8 * 64 * 9
    assert by_label["conv1x1[numpy] 8x8x96->8x8x24 +res"].flops == 2 * 8 * 8 * 96 * 24
    assert by_label["matmul[numpy] 64->10"].flops == 2 * 64 * 10
    assert {step.label for step in steps if step.flops is None} >= {"to_nhwc", "mean"}


# --- fusions -------------------------------------------------------------------------------------
def batchnorm(x, y, channels, prefix, epsilon=1e-5):
    init = {
        f"{prefix}.gamma": RNG.uniform(0.5, 1.5, channels).astype(np.float32),
        f"{prefix}.beta": random(channels),
        f"{prefix}.mean": random(channels),
        f"{prefix}.var": RNG.uniform(0.5, 2, channels).astype(np.float32),
    }
    node = helper.make_node("BatchNormalization", [x, *init], [y], name=prefix, epsilon=epsilon)
    return node, init


@pytest.mark.parametrize("bias", [True, False])
def test_batchnorm_folds_into_conv(bias):
    bn, init = batchnorm("c", "y", 6, "bn", epsilon=1e-3)
    init.update(w=random(6, 4, 3, 3), b=random(6))
    model = make_model([conv_node("x", "w", "c", "b" if bias else None, pads=[1, 1, 1, 1]), bn], [2, 4, 8, 8], init)
    engine, _ = compare(model, random(2, 4, 8, 8))
    assert kernels(engine) == ["to_nhwc", "conv_im2col", "to_nchw"]


def test_batchnorm_not_folded_when_conv_output_is_shared():
    """The conv output is also read by Add, so BN must stay a separate (NHWC) step."""
    bn, init = batchnorm("c", "n", 6, "bn")
    init.update(w=random(6, 6, 1, 1))
    nodes = [conv_node("x", "w", "c"), bn, helper.make_node("Add", ["c", "n"], ["y"])]
    engine, _ = compare(make_model(nodes, [2, 6, 5, 5], init), random(2, 6, 5, 5))
    assert "affine" in kernels(engine)


@pytest.mark.parametrize("shape", [[2, 5, 4, 4], [3, 5]])
def test_batchnorm_alone(shape):
    bn, init = batchnorm("x", "y", 5, "bn")
    compare(make_model([bn], shape, init, opset=9), random(*shape))


CLIP_FORMS = {
    # name: (opset, attributes, extra inputs, initializers)
    "opset 6 min max": (6, dict(min=0.0, max=6.0), [], {}),
    "opset 6 max only": (6, dict(max=0.5), [], {}),
    "opset 6 min only": (6, dict(min=-0.25), [], {}),
    "opset 11 min max": (11, {}, ["lo", "hi"], {"lo": np.float32(0), "hi": np.float32(6)}),
    "opset 11 max only": (11, {}, ["", "hi"], {"hi": np.float32(0.5)}),
    "opset 11 min only": (11, {}, ["lo"], {"lo": np.float32(-0.25)}),
    "opset 13 no bounds": (13, {}, [], {}),
    "opset 13 bounds of shape [1]": (
        13,
        {},
        ["lo", "hi"],
        {"lo": np.array([-1], np.float32), "hi": np.array([1], np.float32)},
    ),
}


@pytest.mark.parametrize("after_conv", [True, False])
@pytest.mark.parametrize("form", CLIP_FORMS)
def test_clip(form, after_conv):
    opset, attrs, extra, init = CLIP_FORMS[form]
    init = dict(init, w=random(4, 3, 3, 3))
    source = "c" if after_conv else "x"
    nodes = [conv_node("x", "w", "c", pads=[1, 1, 1, 1])] if after_conv else []
    nodes.append(helper.make_node("Clip", [source, *extra], ["y"], **attrs))
    shape = [2, 3, 6, 6] if after_conv else [2, 4, 6, 6]
    engine, _ = compare(make_model(nodes, shape, init, opset=opset), random(*shape, scale=3), form)
    assert ("clip" in kernels(engine)) != after_conv  # fused into the conv when it follows one


def test_clip_with_constant_node_bounds():
    """torch exports give Clip its bounds through Constant nodes."""
    nodes = [
        helper.make_node("Constant", [], ["lo"], value=numpy_helper.from_array(np.array(0, np.float32))),
        helper.make_node("Constant", [], ["hi"], value_float=6.0),
        conv_node("x", "w", "c"),
        helper.make_node("Clip", ["c", "lo", "hi"], ["y"]),
    ]
    engine, _ = compare(make_model(nodes, [1, 3, 4, 4], {"w": random(5, 3, 1, 1)}), random(1, 3, 4, 4, scale=5))
    assert kernels(engine) == ["to_nhwc", "conv_pointwise", "to_nchw"]


@pytest.mark.parametrize("after_conv", [True, False])
def test_relu(after_conv):
    nodes = [conv_node("x", "w", "c")] if after_conv else []
    nodes.append(helper.make_node("Relu", ["c" if after_conv else "x"], ["y"]))
    engine, _ = compare(make_model(nodes, [2, 3, 5, 5], {"w": random(3, 3, 1, 1)}), random(2, 3, 5, 5))
    # Fused into the conv when it follows one; a kernel of its own otherwise.
    assert (kernels(engine) == ["to_nhwc", "conv_pointwise", "to_nchw"]) == after_conv
    assert any("relu" in k or "clip" in k for k in kernels(engine)) != after_conv


# --- element-wise with broadcasting ------------------------------------------------------------
@pytest.mark.parametrize(
    "op, other_shape",
    [
        (op, shape)
        for op in ("Add", "Mul", "Sub", "Div")
        for shape in [(4, 1, 1), (1, 4, 1, 1), (1, 1, 5), (5,), (), (2, 4, 5, 5)] + (["conv"] if op != "Div" else [])
    ],
)
def test_binary_broadcasting(op, other_shape):
    """x is NHWC inside (a conv output); the other operand is a constant of a broadcastable
    shape (kept away from 0 for Div), or another conv output."""
    init = {"w": random(4, 4, 1, 1), "w2": random(4, 4, 3, 3)}
    nodes = [conv_node("x", "w", "c")]
    if other_shape == "conv":
        nodes.append(conv_node("x", "w2", "o", pads=[1, 1, 1, 1]))
    else:
        init["o"] = random(*other_shape) + (3 if op == "Div" else 0)
    nodes.append(helper.make_node(op, ["c", "o"], ["y"]))
    compare(make_model(nodes, [2, 4, 5, 5], init), random(2, 4, 5, 5), f"{op} {other_shape}")


def test_add_of_graph_input_and_conv_output():
    """One operand plain NCHW (the input), the other NHWC: the engine must align layouts."""
    nodes = [conv_node("x", "w", "c", pads=[1, 1, 1, 1]), helper.make_node("Add", ["x", "c"], ["y"])]
    compare(make_model(nodes, [2, 3, 6, 7], {"w": random(3, 3, 3, 3)}), random(2, 3, 6, 7))


def test_binary_on_plain_tensors():
    nodes = [helper.make_node("Mul", ["x", "s"], ["m"]), helper.make_node("Add", ["m", "x"], ["y"])]
    compare(make_model(nodes, ["N", 7], {"s": random(7)}), random(3, 7))


# --- Pad ---------------------------------------------------------------------------------------------
PAD_FORMS = {
    # name: (opset, attributes, extra inputs, initializers)
    "opset 2 attribute": (2, dict(pads=[0, 0, 1, 2, 0, 0, 2, 1]), [], {}),
    "opset 2 attribute value": (2, dict(pads=[0, 0, 1, 2, 0, 0, 2, 1], value=0.5), [], {}),
    "opset 11 input": (11, {}, ["p"], {"p": np.array([0, 0, 1, 2, 0, 0, 2, 1], np.int64)}),
    "opset 11 input value": (
        11,
        {},
        ["p", "v"],
        {"p": np.array([0, 0, 1, 0, 0, 0, 0, 1], np.int64), "v": np.array(-1.5, np.float32)},
    ),
    "opset 11 channels": (11, {}, ["p"], {"p": np.array([0, 1, 0, 0, 0, 2, 0, 0], np.int64)}),
    "opset 18 axes": (
        18,
        {},
        ["p", "", "a"],
        {"p": np.array([1, 2, 0, 1], np.int64), "a": np.array([2, -1], np.int64)},
    ),
}


@pytest.mark.parametrize("form", PAD_FORMS)
def test_pad_alone(form):
    opset, attrs, extra, init = PAD_FORMS[form]
    nodes = [helper.make_node("Pad", ["x", *extra], ["y"], mode="constant", **attrs)]
    compare(make_model(nodes, [2, 3, 5, 6], init, opset=opset), random(2, 3, 5, 6), form)


@pytest.mark.parametrize("form", PAD_FORMS)
def test_pad_before_conv(form):
    """Zero H/W padding folds into the conv's own pads; anything else stays a Pad step."""
    opset, attrs, extra, init = PAD_FORMS[form]
    channels = 3 + (3 if form == "opset 11 channels" else 0)
    init = dict(init, w=random(4, channels, 3, 3))
    nodes = [
        helper.make_node("Pad", ["x", *extra], ["p_out"], **attrs),
        conv_node("p_out", "w", "y", pads=[1, 0, 0, 1], strides=[2, 1]),
    ]
    engine, _ = compare(make_model(nodes, [2, 3, 7, 8], init, opset=max(opset, 7)), random(2, 3, 7, 8), form)
    foldable = "value" not in form and form != "opset 11 channels"
    assert ("pad" in kernels(engine)) != foldable


# --- pooling and reductions --------------------------------------------------------------------
@pytest.mark.parametrize("after_conv", [True, False])
def test_global_average_pool(after_conv):
    nodes = [conv_node("x", "w", "c")] if after_conv else []
    nodes.append(helper.make_node("GlobalAveragePool", ["c" if after_conv else "x"], ["y"]))
    compare(make_model(nodes, [2, 3, 5, 6], {"w": random(3, 3, 1, 1)}), random(2, 3, 5, 6))


REDUCE_FORMS = {
    # name: (opset, attributes, axes input or None)
    "opset 13 axes 2 3": (13, dict(axes=[2, 3]), None),
    "opset 13 axes -1 keepdims 0": (13, dict(axes=[-1], keepdims=0), None),
    "opset 13 axis 1 keepdims 0": (13, dict(axes=[1], keepdims=0), None),
    "opset 13 all axes": (13, {}, None),
    "opset 18 axes input": (18, {}, np.array([2, 3], np.int64)),
    "opset 18 axes input keepdims 0": (18, dict(keepdims=0), np.array([1, 3], np.int64)),
}


@pytest.mark.parametrize("after_conv", [True, False])
@pytest.mark.parametrize("form", REDUCE_FORMS)
def test_reduce_mean(form, after_conv):
    opset, attrs, axes = REDUCE_FORMS[form]
    init = {"w": random(3, 3, 1, 1)}
    inputs = ["c" if after_conv else "x"]
    if axes is not None:
        init["axes"] = axes
        inputs.append("axes")
    nodes = ([conv_node("x", "w", "c")] if after_conv else []) + [
        helper.make_node("ReduceMean", inputs, ["y"], **attrs)
    ]
    compare(make_model(nodes, [2, 3, 4, 5], init, opset=opset), random(2, 3, 4, 5), form)


@pytest.mark.parametrize(
    "opset, axis, shape",
    [(11, None, [2, 3, 4]), (11, 2, [2, 3, 4, 2]), (13, None, [2, 3, 4]), (13, 1, [2, 5]), (13, 1, [2, 3, 4])],
)
def test_softmax(opset, axis, shape):
    attrs = {} if axis is None else dict(axis=axis)
    compare(
        make_model([helper.make_node("Softmax", ["x"], ["y"], **attrs)], shape, opset=opset), random(*shape, scale=3)
    )


# --- reshaping -------------------------------------------------------------------------------------
@pytest.mark.parametrize("axis", [0, 1, 2, 3, 4, -1])
def test_flatten_of_nhwc_value(axis):
    """The conv output is NHWC inside; Flatten must still see NCHW order."""
    nodes = [conv_node("x", "w", "c"), helper.make_node("Flatten", ["c"], ["y"], axis=axis)]
    compare(make_model(nodes, [2, 3, 4, 5], {"w": random(6, 3, 1, 1)}), random(2, 3, 4, 5))


@pytest.mark.parametrize("target", [[0, -1], [-1, 30], [2, 0, 5, -1], [0, 6, 20], [-1]])
def test_reshape(target):
    nodes = [conv_node("x", "w", "c", pads=[1, 1, 1, 1]), helper.make_node("Reshape", ["c", "t"], ["y"])]
    init = {"w": random(6, 3, 3, 3), "t": np.array(target, np.int64)}
    compare(make_model(nodes, [2, 3, 4, 5], init), random(2, 3, 4, 5), str(target))


def test_reshape_keeps_a_symbolic_batch_and_infers_the_rest():
    # The model zoo's classifier head: (N, 1000, 1, 1) -> Reshape [0, -1] -> (N, 1000).
    nodes = [conv_node("x", "w", "c"), helper.make_node("Reshape", ["c", "t"], ["y"])]
    init = {"w": random(10, 3, 1, 1), "t": np.array([0, -1], np.int64)}
    model = make_model(nodes, ["N", 3, 1, 1], init)
    assert load_model(model.SerializeToString()).output_shape == (None, 10)
    compare(model, random(2, 3, 1, 1))


def test_reshape_allowzero():
    nodes = [helper.make_node("Reshape", ["x", "t"], ["y"], allowzero=1)]
    compare(make_model(nodes, [2, 3, 4], {"t": np.array([4, 6], np.int64)}, opset=14), random(2, 3, 4))


def torch_style_flatten(batch):
    """x.view(x.size(0), -1) as the TorchScript exporter writes it: Shape -> Gather ->
    Unsqueeze -> Concat -> Reshape, after GlobalAveragePool, then a Gemm."""
    nodes = [
        conv_node("x", "w", "c"),
        helper.make_node("GlobalAveragePool", ["c"], ["p"]),
        helper.make_node("Shape", ["p"], ["s"]),
        helper.make_node("Constant", [], ["zero"], value=numpy_helper.from_array(np.array(0, np.int64))),
        helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
        helper.make_node("Unsqueeze", ["n", "axes"], ["n1"]),
        helper.make_node("Constant", [], ["minus1"], value_ints=[-1]),
        helper.make_node("Concat", ["n1", "minus1"], ["shape"], axis=0),
        helper.make_node("Reshape", ["p", "shape"], ["f"]),
        helper.make_node("Gemm", ["f", "fc_w", "fc_b"], ["y"], transB=1),
    ]
    init = {"w": random(8, 3, 1, 1), "axes": np.array([0], np.int64), "fc_w": random(5, 8), "fc_b": random(5)}
    return make_model(nodes, [batch, 3, 6, 6], init)


def test_shape_subgraph_folds_with_static_batch():
    engine, _ = compare(torch_style_flatten(2), random(2, 3, 6, 6))
    assert kernels(engine) == ["to_nhwc", "conv_pointwise", "mean", "to_nchw", "reshape", "matmul"]


@pytest.mark.parametrize("batch", [1, 3])
def test_shape_subgraph_runs_with_symbolic_batch(batch):
    engine, _ = compare(torch_style_flatten("N"), random(batch, 3, 6, 6))
    assert "shape_of" in kernels(engine) and "gather" in kernels(engine)


def test_shape_start_end_and_unsqueeze_attribute():
    nodes = [
        helper.make_node("Shape", ["x"], ["s"], start=-2),  # opset 15: [H, W]
        helper.make_node("Concat", ["minus1", "s"], ["shape"], axis=0),
        helper.make_node("Reshape", ["x", "shape"], ["y"]),
    ]
    compare(make_model(nodes, ["N", 3, 4, 5], {"minus1": np.array([-1], np.int64)}, opset=15), random(2, 3, 4, 5))
    nodes = [helper.make_node("Unsqueeze", ["x"], ["y"], axes=[0, -1])]  # opset < 13: attribute
    compare(make_model(nodes, [2, 3], opset=11), random(2, 3))


def test_concat_of_conv_outputs():
    nodes = [
        conv_node("x", "w1", "a"),
        conv_node("x", "w2", "b"),
        helper.make_node("Concat", ["a", "b"], ["y"], axis=1),
    ]
    compare(make_model(nodes, [2, 3, 4, 4], {"w1": random(2, 3, 1, 1), "w2": random(5, 3, 1, 1)}), random(2, 3, 4, 4))


# --- Gemm, MatMul ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "trans_a, trans_b, alpha, beta, c_shape",
    [
        (0, 0, 1.0, 1.0, None),
        (0, 1, 1.0, 1.0, (5,)),
        (1, 0, 1.0, 1.0, (4, 5)),
        (1, 1, 0.5, 2.0, (1, 5)),
        (0, 1, 1.5, -1.0, ()),
        (0, 0, 1.0, 0.5, (4, 1)),
    ],
)
def test_gemm(trans_a, trans_b, alpha, beta, c_shape):
    a_shape = [7, 4] if trans_a else [4, 7]
    init = {"b": random(*([5, 7] if trans_b else [7, 5]))}
    inputs = ["x", "b"]
    if c_shape is not None:
        init["c"] = random(*c_shape)
        inputs.append("c")
    node = helper.make_node("Gemm", inputs, ["y"], transA=trans_a, transB=trans_b, alpha=alpha, beta=beta)
    compare(make_model([node], a_shape, init, opset=11), random(*a_shape))


def test_gemm_with_runtime_b():
    nodes = [helper.make_node("Flatten", ["x"], ["f"]), helper.make_node("Gemm", ["f", "f"], ["y"], transB=1)]
    compare(make_model(nodes, [3, 2, 2, 2], opset=11), random(3, 2, 2, 2))


@pytest.mark.parametrize("x_shape, w_shape", [([3, 6], (6, 4)), ([2, 3, 6], (6, 4)), ([2, 3, 6], (2, 6, 4))])
def test_matmul(x_shape, w_shape):
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Add", ["m", "b"], ["y"])]
    compare(make_model(nodes, x_shape, {"w": random(*w_shape), "b": random(4)}), random(*x_shape))


# --- Identity, Dropout, Constant -------------------------------------------------------------------
@pytest.mark.parametrize("opset", [10, 13])
def test_identity_and_dropout(opset):
    dropout = (
        helper.make_node("Dropout", ["i"], ["d"], ratio=0.5)
        if opset < 12
        else helper.make_node("Dropout", ["i", "r"], ["d"])
    )
    nodes = [helper.make_node("Identity", ["x"], ["i"]), dropout, helper.make_node("Relu", ["d"], ["y"])]
    engine, _ = compare(
        make_model(nodes, [2, 3, 4, 4], {"r": np.array(0.5, np.float32)}, opset=opset), random(2, 3, 4, 4)
    )
    assert kernels(engine) == ["clip"]


def test_constant_forms():
    nodes = [
        helper.make_node("Constant", [], ["a"], value=numpy_helper.from_array(random(3, 1, 1))),
        helper.make_node("Constant", [], ["b"], value_floats=[1.0, 2.0, 3.0, 4.0]),
        helper.make_node("Constant", [], ["t"], value_ints=[0, -1]),
        helper.make_node("Add", ["x", "a"], ["s"]),
        helper.make_node("Mul", ["s", "b"], ["m"]),
        helper.make_node("Reshape", ["m", "t"], ["y"]),
    ]
    compare(make_model(nodes, [2, 3, 5, 4], opset=13), random(2, 3, 5, 4))


# --- errors ---------------------------------------------------------------------------------------
def small_model():
    return make_model(
        [
            conv_node("x", "w", "c", pads=[1, 1, 1, 1]),
            helper.make_node("Relu", ["c"], ["r"]),
            helper.make_node("GlobalAveragePool", ["r"], ["y"]),
        ],
        [1, 3, 8, 8],
        {"w": random(4, 3, 3, 3)},
    )


def test_unsupported_op_is_named():
    model = small_model()
    model.graph.node.append(helper.make_node("NonMaxSuppression", ["y", "y"], ["z"], name="head_nms"))
    with pytest.raises(ModelError, match=r"NonMaxSuppression.*head_nms"):
        load_model(model.SerializeToString())


def test_unsupported_domain():
    model = small_model()
    model.graph.node[1].domain = "com.microsoft"
    with pytest.raises(ModelError, match="com.microsoft"):
        load_model(model.SerializeToString())


def test_truncated_files():
    data = small_model().SerializeToString()
    load_model(data)  # the whole file is fine
    for cut in sorted(set(np.linspace(0, len(data) - 1, 60).astype(int))):
        with pytest.raises(ModelError):
            load_model(data[:cut])


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello, world",
        b"\x89PNG\r\n\x1a\n" + bytes(100),
        bytes(range(256)),
        *(np.random.default_rng(seed).bytes(n) for seed, n in ((1, 10), (2, 1000), (3, 50000))),
    ],
)
def test_garbage_bytes(data):
    with pytest.raises(ModelError):
        load_model(data)


def test_corrupted_bytes():
    """Flipping bytes inside the file must give a ModelError or a working model, never a crash."""
    data = bytearray(small_model().SerializeToString())
    rng = np.random.default_rng(7)
    for _ in range(100):
        damaged = bytearray(data)
        for position in rng.integers(0, len(data), 3):
            damaged[position] = rng.integers(0, 256)
        try:
            engine = load_model(bytes(damaged))
        except ModelError:
            continue
        shape = tuple(d or 1 for d in engine.input_shape)
        if np.prod(shape) <= 10_000:  # a damaged dim may declare a huge input
            try:
                engine.run(np.zeros(shape, np.float32))
            except ModelError:
                pass


def test_wrong_input_shape():
    engine = load_model(small_model().SerializeToString())
    assert engine.run(random(1, 3, 8, 8)).shape == (1, 4, 1, 1)
    for shape in [(1, 3, 8, 9), (1, 4, 8, 8), (2, 3, 8, 8), (3, 8, 8)]:
        with pytest.raises(ModelError, match="shape"):
            engine.run(random(*shape))


def test_non_constant_weight():
    nodes = [helper.make_node("Relu", ["x"], ["w"]), conv_node("x", "w", "y")]
    with pytest.raises(ModelError, match="constant"):
        load_model(make_model(nodes, [1, 3, 3, 3]).SerializeToString())


def test_undefined_value():
    nodes = [helper.make_node("Add", ["x", "nowhere"], ["y"])]
    with pytest.raises(ModelError, match="nowhere"):
        load_model(make_model(nodes, [1, 3]).SerializeToString())


def test_conv_channel_mismatch():
    model = make_model([conv_node("x", "w", "y")], [1, 3, 4, 4], {"w": random(2, 4, 1, 1)})
    with pytest.raises(ModelError, match="conv_y"):
        load_model(model.SerializeToString())


# --- full models ------------------------------------------------------------------------------------
def own_mobilenet(batch, opset=13):
    """A small MobileNetV2-like network written here: stem conv + BN + ReLU6, two inverted
    residual blocks (one strided), head conv, GlobalAveragePool, Flatten, Gemm."""
    nodes, init = [], {}

    def conv_bn(x, cin, cout, name, k=1, stride=1, group=1, relu6=True):
        init[name + ".w"] = random(cout, cin // group, k, k, scale=(2 / (cin // group * k * k)) ** 0.5)
        nodes.append(conv_node(x, name + ".w", name, strides=[stride, stride], group=group, pads=[(k - 1) // 2] * 4))
        bn, bn_init = batchnorm(name, name + ".bn", cout, name + ".bn")
        nodes.append(bn)
        init.update(bn_init)
        if relu6:
            init.update({name + ".lo": np.array(0, np.float32), name + ".hi": np.array(6, np.float32)})
            nodes.append(helper.make_node("Clip", [name + ".bn", name + ".lo", name + ".hi"], [name + ".relu"]))
            return name + ".relu"
        return name + ".bn"

    x = conv_bn("x", 3, 16, "stem", k=3, stride=2)
    for i, (cout, stride) in enumerate([(16, 1), (24, 2), (24, 1)]):
        cin = 16 if i < 2 else 24
        h = conv_bn(x, cin, cin * 4, f"b{i}.expand")
        h = conv_bn(h, cin * 4, cin * 4, f"b{i}.dw", k=3, stride=stride, group=cin * 4)
        h = conv_bn(h, cin * 4, cout, f"b{i}.project", relu6=False)
        if stride == 1 and cin == cout:
            nodes.append(helper.make_node("Add", [x, h], [f"b{i}.add"]))
            h = f"b{i}.add"
        x = h
    x = conv_bn(x, 24, 64, "head")
    init.update({"fc.w": random(10, 64, scale=0.2), "fc.b": random(10)})
    nodes += [
        helper.make_node("GlobalAveragePool", [x], ["pool"]),
        helper.make_node("Flatten", ["pool"], ["flat"]),
        helper.make_node("Gemm", ["flat", "fc.w", "fc.b"], ["y"], transB=1),
    ]
    return make_model(nodes, [batch, 3, 32, 32], init, opset=opset)


@pytest.mark.parametrize("batch", [1, 2, "N"])
def test_own_small_mobilenet(batch):
    engine, _ = compare(own_mobilenet(batch), random(2 if batch == "N" else batch, 3, 32, 32), f"batch {batch}")
    steps = kernels(engine)
    assert "affine" not in steps and "clip" not in steps  # every BN and ReLU6 folded into a conv
    assert steps.count("to_nhwc") == 1 and steps.count("to_nchw") == 1  # layout changes only at the edges


def test_prepared_weights_are_contiguous_float32():
    """The numpy kernels' weights are laid out once, C-contiguous float32, for their matmuls."""
    engine = load_model(own_mobilenet(1).SerializeToString())
    arrays = [v for step in engine.plan.steps for v in step.params.values() if isinstance(v, np.ndarray)]
    arrays += list(engine.plan.constants.values())
    assert len(arrays) > 20
    assert all(a.dtype == np.float32 and a.flags.c_contiguous for a in arrays)


def test_zoo_style_mobilenetv2():
    mobilenetv2 = _fixture_module(ROOT, "models.mobilenetv2")
    model = mobilenetv2.build_mobilenetv2_zoo_style(seed=3)
    engine, _ = compare(model, random(2, 3, 224, 224), "zoo-style MobileNetV2 (random weights)")
    assert engine.input_shape == (None, 3, 224, 224)
    assert engine.info["op_counts"]["Conv"] == 53 and engine.info["op_counts"]["BatchNormalization"] == 52
    weights = [numpy_helper.to_array(t) for t in model.graph.initializer]
    assert engine.info["parameters"] == sum(w.size for w in weights if w.dtype == np.float32)
    assert "affine" not in kernels(engine) and "clip" not in kernels(engine)


def test_torch_exported_mobilenetv2(tmp_path):
    pytest.importorskip("torch")
    torch_mobilenetv2 = _fixture_module(ROOT / "tests", "torch_mobilenetv2")
    path = tmp_path / "mobilenetv2-torch.onnx"
    torch_mobilenetv2.export_torchvision_style_mobilenetv2(path, seed=1)
    compare(path.read_bytes(), random(2, 3, 224, 224), "torch-exported MobileNetV2")


def test_efficientnet_lite0():
    path = ROOT / "build" / "models" / "efficientnet-lite0.onnx"
    if not path.exists():
        pytest.skip(f"{path.relative_to(ROOT)} not built (make model)")
    engine, _ = compare(path.read_bytes(), random(1, 3, 224, 224), "EfficientNet-Lite0 (pretrained)")
    assert engine.info["metadata"].get("name") == "efficientnet-lite0"


def _fixture_module(folder, name):
    """Another helper's fixture builder (models/, tests/), skipped if it is not there."""
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    return pytest.importorskip(name)


# --- lean loading ----------------------------------------------------------------------------
def test_plan_does_not_borrow_the_file_bytes():
    """Initializers are read as views of the file; the plan copies what it keeps as is (here
    MatMul's B and Add's operand), so a reused buffer cannot change the model."""
    nodes = [helper.make_node("MatMul", ["x", "w"], ["m"]), helper.make_node("Add", ["m", "b"], ["y"])]
    model = make_model(nodes, [2, 4], {"w": random(4, 3), "b": random(3)})
    data = bytearray(model.SerializeToString())
    engine, _ = compare(bytes(data), random(2, 4))
    engine = load_model(data)
    x = random(2, 4)
    before = engine.run(x)
    data[:] = bytes(len(data))
    np.testing.assert_array_equal(engine.run(x), before)


def test_loading_holds_only_the_plan():
    """Peak memory while loading stays near what the plan keeps (no whole-model copies of the
    weights on the way: they would end up in the component's memory and snapshot)."""
    data = _fixture_module(ROOT, "models.mobilenetv2").build_mobilenetv2_zoo_style(seed=3).SerializeToString()
    tracemalloc.start()
    try:
        engine = load_model(data)
        live, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    arrays = [v for step in engine.plan.steps for v in step.params.values() if isinstance(v, np.ndarray)]
    planned = sum(a.nbytes for a in arrays) + sum(a.nbytes for a in engine.plan.constants.values())
    assert live < planned + 1e6, (live, planned)  # nothing but the plan's own arrays stays
    assert peak < 1.1 * live, (peak, live)  # plus one layer's temporaries at most


def test_nodes_in_any_order():
    """ONNX wants nodes sorted, not every tool complies: fusions still happen."""
    model = own_mobilenet(1)
    reversed_nodes = list(model.graph.node)[::-1]
    del model.graph.node[:]
    model.graph.node.extend(reversed_nodes)
    engine, _ = compare(model, random(1, 3, 32, 32))
    assert "affine" not in kernels(engine) and "clip" not in kernels(engine)


@pytest.mark.parametrize("conv_first", [True, False])
@pytest.mark.parametrize("activation", [None, "Relu"])
def test_residual_add_fuses_into_conv(conv_first, activation):
    """Conv [-> Relu] -> Add(conv, x) or Add(x, conv): the add becomes the conv's epilogue."""
    nodes = [conv_node("x", "w", "c", "b", pads=[1, 1, 1, 1])]
    if activation:
        nodes.append(helper.make_node(activation, ["c"], ["r"]))
    out = "r" if activation else "c"
    nodes.append(helper.make_node("Add", [out, "x"] if conv_first else ["x", out], ["y"]))
    model = make_model(nodes, [2, 4, 7, 7], {"w": random(4, 4, 3, 3, scale=0.3), "b": random(4)})
    engine, _ = compare(model, random(2, 4, 7, 7))
    assert kernels(engine) == ["to_nhwc", "conv_im2col", "to_nchw"]


def test_activation_after_residual_add_stays_a_step():
    """Conv -> Add -> Relu (ResNet's order): the Relu must see the sum, so it is not fused."""
    nodes = [
        conv_node("x", "w", "c"),
        helper.make_node("Add", ["c", "x"], ["s"]),
        helper.make_node("Relu", ["s"], ["y"]),
    ]
    engine, _ = compare(make_model(nodes, [1, 4, 5, 5], {"w": random(4, 4, 1, 1)}), random(1, 4, 5, 5))
    assert kernels(engine) == ["to_nhwc", "conv_pointwise", "clip", "to_nchw"]


@pytest.mark.parametrize("other", ["constant (C, 1, 1)", "larger (N, C, H, W)"])
def test_broadcast_add_after_conv(other):
    """An Add whose other operand broadcasts against the conv output is still fused into the
    node, but planned as the conv then a broadcasting add: the result has Add's shape."""
    if other.startswith("constant"):
        nodes = [conv_node("x", "w", "c"), helper.make_node("Add", ["c", "k"], ["y"])]
        model = make_model(nodes, [2, 3, 5, 5], {"w": random(4, 3, 1, 1), "k": random(4, 1, 1)})
        compare(model, random(2, 3, 5, 5), other)
    else:  # the conv output (N, C, 1, 1) broadcasts up to the graph input's (N, C, 5, 5)
        nodes = [conv_node("x", "w", "c"), helper.make_node("Add", ["x", "c"], ["y"])]
        compare(make_model(nodes, [2, 4, 5, 5], {"w": random(4, 4, 5, 5, scale=0.2)}), random(2, 4, 5, 5), other)


def test_add_of_two_conv_outputs():
    nodes = [
        conv_node("x", "w1", "a"),
        conv_node("x", "w2", "b", pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["a", "b"], ["y"]),
    ]
    engine, _ = compare(
        make_model(nodes, [1, 3, 6, 6], {"w1": random(5, 3, 1, 1), "w2": random(5, 3, 3, 3)}), random(1, 3, 6, 6)
    )
    assert "add" not in kernels(engine)


def test_file_attributes_cannot_reach_engine_internals():
    """What fuse.py merges into a Conv is typed plan data (node.fused), not an attribute: a
    Conv whose file carries attributes named like engine internals computes the plain ONNX Conv
    (onnxruntime refuses such a file; the engine ignores attributes it does not know)."""
    init = {"w": random(6, 3, 3, 3), "b": random(6)}
    plain = make_model([conv_node("x", "w", "y", "b", pads=[1, 1, 1, 1])], [1, 3, 6, 6], init)
    tricked = make_model(
        [
            conv_node(
                "x",
                "w",
                "y",
                "b",
                pads=[1, 1, 1, 1],
                activation=[0.0, 0.5],
                scale_shift=[2.0, 3.0],
                bounds=[0.0, 0.5],
                fused=1,
                residual=1,
            )
        ],
        [1, 3, 6, 6],
        init,
    )
    x = random(1, 3, 6, 6)
    want = onnxruntime_run(plain.SerializeToString(), x)
    got = load_model(tricked.SerializeToString()).run(x)
    assert got.max() > 0.5 and got.min() < 0  # not clipped to [0, 0.5]
    np.testing.assert_allclose(got, want, atol=TOLERANCE)


def test_batchnorm_chain_folds_into_conv():
    bn1, init = batchnorm("c", "n", 6, "bn1")
    bn2, init2 = batchnorm("n", "y", 6, "bn2", epsilon=1e-3)
    init.update(init2, w=random(6, 4, 3, 3))
    model = make_model([conv_node("x", "w", "c", pads=[1, 1, 1, 1]), bn1, bn2], [2, 4, 8, 8], init)
    engine, _ = compare(model, random(2, 4, 8, 8))
    assert kernels(engine) == ["to_nhwc", "conv_im2col", "to_nchw"]
