"""Quantized (int8/uint8) graphs against onnxruntime on the same ONNX bytes, natively (numpy's
integer kernels) and inside the component: QDQ and QOperator graphs that
onnxruntime.quantization.quantize_static makes from a small MobileNet-like float net (every
quantized op its quantizer writes for it), per-tensor and per-channel weights, uint8 and int8
activations, symmetric and asymmetric, batch 3; and QOperator nodes written with onnx.helper
(uint8 weights with zero points, ConvInteger, MatMulInteger, QGemm with a float output,
per-axis QuantizeLinear on an NHWC activation). Outputs within 2 quantization steps."""

import io
import json
import logging
import sys

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

import engine
from conftest import ROOT, require
from engine.errors import ModelError
from photos import CAT_CLASSES

logging.getLogger().setLevel(logging.ERROR)  # the quantizer's "consider pre-processing" advice
RNG = np.random.default_rng(20261203)
X_SHAPE = (3, 3, 32, 32)
INT8_DEFAULT = ROOT / "build" / "models" / "efficientnet-lite0-int8.onnx"


def tiny_net():
    """A float MobileNet-like net: stem 3x3/2 + ReLU6, depthwise 3x3 + ReLU6, 1x1 project,
    residual Add, 1x1 expand + ReLU6, AveragePool -> Sigmoid -> Mul (a gate), 1x1 + LeakyRelu,
    Concat, GlobalAveragePool, Flatten, Gemm."""
    nodes, init = [], {"zero": np.array(0, np.float32), "six": np.array(6, np.float32)}

    def conv(name, x, cin, cout, k, stride=1, group=1, relu6=True):
        init[name + "_w"] = (
            RNG.standard_normal((cout, cin // group, k, k)) * (2 / (cin // group * k * k)) ** 0.5
        ).astype(np.float32)
        init[name + "_b"] = (RNG.standard_normal(cout) * 0.1).astype(np.float32)
        out = name + "_c" if relu6 else name
        nodes.append(
            helper.make_node(
                "Conv", [x, name + "_w", name + "_b"], [out], pads=[k // 2] * 4, strides=[stride] * 2, group=group
            )
        )
        if relu6:
            nodes.append(helper.make_node("Clip", [out, "zero", "six"], [name]))

    conv("stem", "x", 3, 16, 3, 2)
    conv("dw", "stem", 16, 16, 3, group=16)
    conv("pw", "dw", 16, 16, 1, relu6=False)
    nodes.append(helper.make_node("Add", ["pw", "stem"], ["res"]))
    conv("exp", "res", 16, 32, 1)
    nodes += [
        helper.make_node("AveragePool", ["exp"], ["ap"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Sigmoid", ["ap"], ["sg"]),
        helper.make_node("Mul", ["exp", "sg"], ["se"]),
    ]
    conv("br", "se", 32, 8, 1, relu6=False)
    nodes += [
        helper.make_node("LeakyRelu", ["br"], ["lr"], alpha=0.1),
        helper.make_node("Concat", ["se", "lr"], ["cat"], axis=1),
        helper.make_node("GlobalAveragePool", ["cat"], ["gap"]),
        helper.make_node("Flatten", ["gap"], ["flat"]),
        helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["y"], transB=1),
    ]
    init["fc_w"] = (RNG.standard_normal((10, 40)) * 0.3).astype(np.float32)
    init["fc_b"] = RNG.standard_normal(10).astype(np.float32)
    return model(nodes, init, ["N", *X_SHAPE[1:]])


def model(nodes, init, x_shape, x_type=TensorProto.FLOAT, y_type=TensorProto.FLOAT, opset=13):
    graph = helper.make_graph(
        nodes,
        "q",
        [helper.make_tensor_value_info("x", x_type, x_shape)],
        [helper.make_tensor_value_info("y", y_type, None)],
        initializer=[numpy_helper.from_array(np.asarray(v), k) for k, v in init.items()],
    )
    opsets = [helper.make_opsetid("", opset), helper.make_opsetid("com.microsoft", 1)]
    return helper.make_model(graph, opset_imports=opsets, ir_version=8).SerializeToString()


class Calibration(CalibrationDataReader):
    def __init__(self, batches):
        self.batches = iter(batches)

    def get_next(self):
        return next(self.batches, None)


def quantized(float_model, tmp_path, **options):
    """quantize_static's output for float_model, calibrated on 4 random batches."""
    source, target = tmp_path / "float.onnx", tmp_path / "int8.onnx"
    source.write_bytes(float_model)
    batches = [{"x": RNG.standard_normal((2, *X_SHAPE[1:])).astype(np.float32)} for _ in range(4)]
    quantize_static(str(source), str(target), Calibration(batches), **options)
    return target.read_bytes()


SYMMETRIC = {"ActivationSymmetric": True, "WeightSymmetric": True}
# name: quantize_static options
QUANTIZED = {
    f"{fmt.name} act {act.name} w {wt.name} {'per-channel' if pc else 'per-tensor'}{' symmetric' if sym else ''}": dict(
        quant_format=fmt, activation_type=act, weight_type=wt, per_channel=pc, extra_options=SYMMETRIC if sym else {}
    )
    for fmt in (QuantFormat.QDQ, QuantFormat.QOperator)
    for act, wt, pc, sym in [
        (QuantType.QUInt8, QuantType.QInt8, False, False),
        (QuantType.QUInt8, QuantType.QInt8, True, False),
        (QuantType.QInt8, QuantType.QInt8, True, True),
        (QuantType.QInt8, QuantType.QInt8, False, False),
        (QuantType.QUInt8, QuantType.QUInt8, True, False),
    ]
}  # asymmetric uint8 weights
# The Gemm's output left float (what models/quantize_int8.py does): DQ -> Gemm -> y, a QGemm
# with a float output.
QUANTIZED["QDQ act QInt8 w QInt8 per-channel symmetric, float Gemm output"] = dict(
    quant_format=QuantFormat.QDQ,
    activation_type=QuantType.QInt8,
    weight_type=QuantType.QInt8,
    per_channel=True,
    extra_options={**SYMMETRIC, "OpTypesToExcludeOutputQuantization": ["Gemm"]},
)


# 16-bit activations (int16 or uint16, onnxruntime's "A16W8"): no integer kernel here takes
# them, so their ops run in float32 between DQ and Q, as QDQ means. Weights of 16 bits too.
SIXTEEN_BIT = {
    f"QDQ act {act.name} w {wt.name} {'per-channel' if pc else 'per-tensor'}": dict(
        quant_format=QuantFormat.QDQ, activation_type=act, weight_type=wt, per_channel=pc
    )
    for act, wt, pc in [
        (QuantType.QInt16, QuantType.QInt8, True),
        (QuantType.QUInt16, QuantType.QUInt8, False),
        (QuantType.QInt8, QuantType.QInt16, True),
    ]
}
# 4-bit weights (int4 and uint4, packed two to a byte; below opset 21 onnxruntime writes
# com.microsoft's Q/DQ for them): read as int8/uint8, so they run on the int8 kernels.
FOUR_BIT = {
    f"QDQ act {act.name} w {wt.name} {'per-channel' if pc else 'per-tensor'}": dict(
        quant_format=QuantFormat.QDQ, activation_type=act, weight_type=wt, per_channel=pc
    )
    for act, wt, pc in [(QuantType.QUInt8, QuantType.QInt4, True), (QuantType.QInt8, QuantType.QUInt4, False)]
}
QUANTIZED |= SIXTEEN_BIT | FOUR_BIT


# A QLinearConv of a uint8 input and an int8 output: legal ONNX that onnxruntime has no kernel
# for, so its reference is the formula (mixed_reference).
MIXED = "QLinearConv uint8 input, int8 output, 1x1 per-channel"
MIXED_INIT = {
    "xs": np.float32(0.05),
    "xz": np.uint8(120),
    "w": RNG.integers(-128, 128, (8, 3, 1, 1), dtype=np.int8),
    "ws": (RNG.random(8) * 0.02 + 0.005).astype(np.float32),
    "wz": np.zeros(8, np.int8),
    "ys": np.float32(0.05),
    "yz": np.int8(-5),
}


def mixed_reference(x):
    i = MIXED_INIT
    acc = np.einsum("nchw,oc->nohw", x.astype(np.int64) - int(i["xz"]), i["w"][:, :, 0, 0].astype(np.int64))
    multiplier = (i["xs"] * i["ws"] / i["ys"]).astype(np.float32)[None, :, None, None]
    return np.clip(np.rint(acc.astype(np.float32) * multiplier) + int(i["yz"]), -128, 127).astype(np.int8)


def qop_models():
    """QOperator nodes as onnx.helper writes them: name -> (model bytes, input, output step)."""
    u8 = lambda *shape: RNG.integers(0, 256, shape, dtype=np.uint8)  # noqa: E731
    s8 = lambda *shape: RNG.integers(-128, 128, shape, dtype=np.int8)  # noqa: E731
    xq = u8(*X_SHAPE)
    scalars = {"xs": np.float32(0.05), "xz": np.uint8(120), "ys": np.float32(0.4), "yz": np.uint8(100)}
    conv_u8 = [
        helper.make_node(
            "QLinearConv",
            ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"],
            ["y"],
            pads=[1, 0, 1, 2],
            strides=[2, 1],
            group=1,
        )
    ]
    conv_init = {
        **scalars,
        "w": u8(8, 3, 3, 3),
        "ws": np.float32(0.02),
        "wz": np.uint8(131),
        "b": RNG.integers(-500, 500, 8, dtype=np.int32),
    }
    dw = [
        helper.make_node(
            "QLinearConv",
            ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz"],
            ["y"],
            group=3,
            kernel_shape=[5, 5],
            auto_pad="SAME_UPPER",
            strides=[2, 2],
        )
    ]
    dw_init = {
        **scalars,
        "w": s8(3, 1, 5, 5),
        "ws": np.array([0.01, 0.02, 0.03], np.float32),
        "wz": np.zeros(3, np.int8),
    }
    xq8 = s8(*X_SHAPE)
    gemm = [
        helper.make_node("QGemm", ["x", "xs", "xz", "w", "ws", "wz", "b"], ["y"], alpha=0.5, domain="com.microsoft")
    ]
    gemm_init = {
        "xs": np.float32(0.1),
        "xz": np.int8(-3),
        "w": s8(32, 7),
        "ws": np.float32(0.03),
        "wz": np.int8(0),
        "b": RNG.integers(-900, 900, 7, dtype=np.int32),
    }
    per_axis = [
        helper.make_node("Conv", ["x", "fw"], ["c"]),
        helper.make_node("QuantizeLinear", ["c", "cs", "cz"], ["q"], axis=1),
        helper.make_node("DequantizeLinear", ["q", "cs", "cz"], ["y"], axis=1),
    ]
    per_axis_init = {
        "fw": RNG.standard_normal((4, 3, 1, 1)).astype(np.float32),
        "cs": np.array([0.01, 0.02, 0.05, 0.1], np.float32),
        "cz": np.array([0, 10, -20, 5], np.int8),
    }
    qmm = [helper.make_node("QLinearMatMul", ["x", "xs", "xz8", "w", "ws", "wz", "ys8", "yz8"], ["y"])]
    qmm_init = {
        "xs": np.float32(0.05),
        "xz8": np.int8(-7),
        "w": s8(13, 7),
        "ws": np.float32(0.02),
        "wz": np.int8(0),
        "ys8": np.float32(0.05),
        "yz8": np.int8(9),
    }  # a small y_scale: saturates
    dw8 = [
        helper.make_node(
            "QLinearConv",
            ["x", "xs", "xz8", "w", "ws", "wz", "ys8", "yz8"],
            ["y"],
            group=16,
            kernel_shape=[5, 5],
            pads=[1, 2, 2, 1],
            strides=[2, 2],
        )
    ]
    dw8_init = {
        "xs": np.float32(0.05),
        "xz8": np.int8(-7),
        "w": s8(16, 1, 5, 5),
        "ys8": np.float32(0.3),
        "yz8": np.int8(3),
        "ws": (RNG.random(16) * 0.02 + 0.005).astype(np.float32),
        "wz": np.zeros(16, np.int8),
    }
    mixed = [helper.make_node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz"], ["y"])]
    gathered = [
        helper.make_node(
            "QLinearConv",
            ["x", "xs", "xz8", "w", "ws", "wz", "ys8", "yz8"],
            ["y"],
            pads=[2, 0, 1, 3],
            strides=[2, 1],
            dilations=[2, 1],
        )
    ]
    gathered_init = dict(dw8_init, w=s8(6, 5, 3, 3), ws=(RNG.random(6) * 0.02 + 0.005).astype(np.float32))
    gathered_init["wz"] = np.zeros(6, np.int8)
    return {
        # XNNPACK's GEMM over the windows qs8_im2col gathers (padding = the input's zero point)
        "QLinearConv int8 3x3 s(2,1) dilated, asymmetric pads, 5 channels": (
            model(gathered, gathered_init, (2, 5, 11, 9), TensorProto.INT8, TensorProto.INT8),
            s8(2, 5, 11, 9),
            1.0,
        ),
        # The form XNNPACK's int8 GEMM takes but for the input's type: a uint8 input is not int8.
        MIXED: (
            model(mixed, MIXED_INIT, X_SHAPE, TensorProto.UINT8, TensorProto.INT8),
            xq,
            1.0,
        ),
        "QLinearConv int8 depthwise 5x5 s2 per-channel, 16 channels": (
            model(dw8, dw8_init, (2, 16, 11, 12), TensorProto.INT8, TensorProto.INT8),
            s8(2, 16, 11, 12),
            1.0,
        ),
        "QLinearMatMul int8, K 13, N 7, saturating": (
            model(qmm, qmm_init, (2, 5, 13), TensorProto.INT8, TensorProto.INT8),
            s8(2, 5, 13),
            1.0,
        ),
        "QLinearConv uint8 weights with zero point, asymmetric pads": (
            model(conv_u8, conv_init, X_SHAPE, TensorProto.UINT8, TensorProto.UINT8),
            xq,
            1.0,
        ),
        "QLinearConv depthwise 5x5 per-channel, SAME_UPPER": (
            model(dw, dw_init, X_SHAPE, TensorProto.UINT8, TensorProto.UINT8),
            xq,
            1.0,
        ),
        "ConvInteger": (
            model(
                [helper.make_node("ConvInteger", ["x", "w", "xz", "wz"], ["y"], pads=[1, 1, 1, 1])],
                {"w": u8(5, 3, 3, 3), "xz": np.uint8(128), "wz": np.uint8(120)},
                X_SHAPE,
                TensorProto.UINT8,
                TensorProto.INT32,
            ),
            xq,
            0.0,
        ),
        "MatMulInteger": (
            model(
                [helper.make_node("MatMulInteger", ["x", "w", "xz"], ["y"])],
                {"w": s8(32, 6), "xz": np.int8(4)},
                X_SHAPE,
                TensorProto.INT8,
                TensorProto.INT32,
            ),
            xq8,
            0.0,
        ),
        "QGemm alpha 0.5, float output": (model(gemm, gemm_init, (5, 32), TensorProto.INT8), s8(5, 32), 1e-5),
        "QuantizeLinear per-axis on NHWC": (model(per_axis, per_axis_init, X_SHAPE), None, 0.1 * 2),
    }


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    """name -> (model bytes, input, tolerance): 2 quantization steps of the output."""
    float_model, out = tiny_net(), {}
    x = RNG.standard_normal(X_SHAPE).astype(np.float32)
    for name, options in QUANTIZED.items():
        data = quantized(float_model, tmp_path_factory.mktemp("q"), **options)
        graph = onnx.load_from_string(data).graph
        init = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
        producer = {o: n for n in graph.node for o in n.output}
        last = producer[graph.output[0].name]
        if last.op_type == "Gemm":  # float output: 2 steps of its input, times its largest weight
            x_dq, w_dq = producer[last.input[0]], producer[last.input[1]]
            w = init[w_dq.input[0]] * init[w_dq.input[1]].reshape(-1, 1)
            out[name] = (data, x, 2 * float(init[x_dq.input[1]]) * float(np.abs(w).max()))
            continue
        assert last.op_type == "DequantizeLinear"
        out[name] = (data, x, 2 * float(init[last.input[1]]))
    for name, (data, xq, steps) in qop_models().items():
        out[name] = (data, x if xq is None else xq, steps if xq is None else 2 * steps)
    return out


def reference(name, data, x):
    if name == MIXED:
        return mixed_reference(x)
    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


NAMES = list(QUANTIZED) + list(qop_models())


@pytest.mark.parametrize("name", NAMES)
def test_native(cases, name):
    """numpy's integer kernels match onnxruntime; the weights stay integers in the plan."""
    data, x, tolerance = cases[name]
    model = engine.load_model(data, kernels="numpy")
    got, want = model.run(x), reference(name, data, x)
    assert got.shape == want.shape
    print(name, "max |diff|", float(np.abs(got - want).max()), "tolerance", tolerance)
    assert np.abs(got - want.astype(np.float32)).max() <= tolerance
    heavy = [s for s in model.plan.steps if s.label.startswith(("qconv", "qdwconv", "qmatmul"))]
    assert heavy or "QuantizeLinear" in name or name in SIXTEEN_BIT
    assert not (heavy and name in SIXTEEN_BIT), [s.label for s in heavy]
    for step in heavy:  # weights: int8/uint8 constants or params, never widened at plan time
        weights = [model.plan.constants[n] for n in step.inputs if n in model.plan.constants] + [step.params.get("w")]
        assert all(w.dtype in (np.int8, np.uint8) for w in weights if w is not None), step.label


def test_qdq_groups_become_integer_steps(cases):
    """Every Conv, Add, Mul, pooling, activation, Concat and the Gemm of the QDQ graph runs
    as an integer step: no float op between a DQ and a Q is left but the input and output."""
    data = cases["QDQ act QInt8 w QInt8 per-channel symmetric"][0]
    labels = [s.label.split()[0] for s in engine.load_model(data, kernels="numpy").plan.steps]
    assert labels.count("quantize") == 1 and labels.count("dequantize") == 1, labels
    assert sum(label.startswith(("qconv", "qdwconv")) for label in labels) == 5
    assert {"qadd", "qmul", "qavgpool", "lookup", "qmean", "concat"} <= set(labels)
    data = cases["QDQ act QInt8 w QInt8 per-channel symmetric, float Gemm output"][0]
    labels = [s.label.split()[0] for s in engine.load_model(data, kernels="numpy").plan.steps]
    assert "dequantize" not in labels and labels[-1].startswith("qmatmul"), labels  # a QGemm, float out


@pytest.mark.parametrize(
    "op, domain, says",
    [
        ("FusedConv", "com.microsoft", "unsupported operator 'FusedConv' (domain 'com.microsoft')"),
        ("QLinearConv", "com.microsoft", "unsupported operator 'QLinearConv' (domain 'com.microsoft')"),
        ("QLinearAdd", "", "unsupported operator 'QLinearAdd'"),
        ("QLinearAdd", "org.example", "unsupported operator 'QLinearAdd' (domain 'org.example')"),
    ],
)
def test_domains(op, domain, says):
    """com.microsoft is accepted for its quantized ops only; other domains stay an error."""
    data = model([helper.make_node(op, ["x"], ["y"], domain=domain)], {}, (1, 3, 4, 4))
    with pytest.raises(ModelError, match=says.replace("(", r"\(").replace(")", r"\)")):
        engine.load_model(data)


RUN_INSIDE = """
f = np.load(io.BytesIO(data))
out = {}
for name in json.loads(bytes(f["names"]).decode()):
    for kernels in ("xnnpack", "numpy"):
        model = engine.load_model(f[name + "/model"].tobytes(), kernels=kernels)
        out[f"{name}/{kernels}"] = model.run(f[name + "/x"])
        labels = [s.label for s in model.plan.steps]
        out[f"{name}/{kernels}/labels"] = np.frombuffer(json.dumps(labels).encode(), np.uint8)
buf = io.BytesIO()
np.savez(buf, **out)
result = buf.getvalue()
"""


@pytest.fixture(scope="module")
def inside(probe, cases):
    arrays = {"names": np.frombuffer(json.dumps(NAMES).encode(), np.uint8)}
    for name in NAMES:
        arrays[name + "/model"] = np.frombuffer(cases[name][0], np.uint8)
        arrays[name + "/x"] = cases[name][1]
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    results = np.load(io.BytesIO(probe.run(RUN_INSIDE, buf.getvalue())))
    return {name: results[name] for name in results.files}


@pytest.mark.parametrize("name", NAMES)
def test_inside_component(inside, cases, name):
    """The same models inside the component match onnxruntime within 2 quantization steps, and
    XNNPACK's integer kernels (int8 or int4 weights; int8 or uint8 activations) give numpy's
    integer results exactly."""
    data, x, tolerance = cases[name]
    want = reference(name, data, x).astype(np.float32)
    xnnpack, numpy_ = inside[f"{name}/xnnpack"], inside[f"{name}/numpy"]
    labels = json.loads(inside[f"{name}/xnnpack/labels"].tobytes())
    print(name, labels)
    assert xnnpack.shape == numpy_.shape == want.shape
    assert np.abs(numpy_ - want).max() <= tolerance
    if name in SIXTEEN_BIT:  # float32 ops between DQ and Q: XNNPACK's sums round as they do
        assert np.abs(xnnpack - want).max() <= tolerance
        return
    assert np.array_equal(xnnpack, numpy_)
    # int8 weights, int8 or uint8 activations (stored as int8: plan.py): XNNPACK's int8 kernels
    int8_weights = (" w QInt8" in name or " w QInt4" in name) and name not in SIXTEEN_BIT
    if int8_weights or "QLinearMatMul int8" in name:
        assert any("[xnnpack]" in label and label.startswith(("qconv1x1", "qmatmul")) for label in labels)
    if int8_weights or "int8 depthwise" in name:
        assert any(label.startswith("qdwconv") and "[xnnpack]" in label for label in labels)
    if int8_weights:  # the stem: its windows gathered, then the GEMM
        assert any(label.startswith("qconv3x3s2[xnnpack]") for label in labels)
    if "dilated, asymmetric pads" in name:
        assert any(label.startswith("qconv3x3") and "[xnnpack]" in label for label in labels), labels
    if "act QUInt8 w QInt" in name:  # uint8 tensors stay int8 from the quantize to the dequantize
        assert not any(label.startswith(("to_signed", "to_unsigned")) for label in labels), labels


def test_default_int8_model_inside_component(probe):
    """The int8 default (`make model QUANT=int8`) inside the component, batch 4: XNNPACK's plan
    (its stem, 1x1, depthwise and float-logit kernels) gives numpy's logits natively bit for
    bit, and the right classes for chelsea and coffee."""
    sys.path.insert(0, str(ROOT / "models"))
    from efficientnet_lite0 import app_preprocess
    from registry_photos import skimage_photo

    require(INT8_DEFAULT)
    sidecar = json.loads(INT8_DEFAULT.with_suffix(".json").read_text())
    names = ("chelsea", "coffee", "astronaut", "rocket")
    x = np.concatenate([app_preprocess(skimage_photo(n)[..., :3], sidecar) for n in names])
    data = INT8_DEFAULT.read_bytes()
    arrays = {"names": np.frombuffer(json.dumps(["default"]).encode(), np.uint8), "default/x": x}
    arrays["default/model"] = np.frombuffer(data, np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    inside = np.load(io.BytesIO(probe.run(RUN_INSIDE, buf.getvalue())))
    native = engine.load_model(data, kernels="numpy").run(x)
    labels = json.loads(inside["default/xnnpack/labels"].tobytes())
    assert np.array_equal(inside["default/xnnpack"], native) and np.array_equal(inside["default/numpy"], native)
    for kernel in ("qconv3x3s2", "qconv1x1", "qdwconv3x3s1", "qdwconv5x5s2", "qmatmul"):
        assert any(label.startswith(kernel + "[xnnpack]") for label in labels), kernel
    assert native[0].argmax() in CAT_CLASSES and native[1].argmax() == 967
