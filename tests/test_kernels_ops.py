"""The backend methods beyond conv and dense (backends/__init__.py), inside the component with
XNNPACK's kernels and numpy's, against onnxruntime on one-node (or one-pattern) ONNX models:

- conv epilogue activations (fuse.py's HardSwish, Sigmoid and gated SiLU/HardSwish patterns)
  and depthwise kernels of more than 25 taps, through load_model as a file would go;
- pooling, unary activations, softmax, layer normalization: through the methods themselves
  (a Planner, the method, the steps run), since their lowerings live elsewhere; the spec each
  gets is made from the node's attributes as a lowering would.
"""

import io
import json

import numpy as np
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

from engine.ops.pool_spec import pool_out_size

TOLERANCE = 1e-4
RNG = np.random.default_rng(20261203)


def model(nodes, x_shape, init=None, opset=13):
    graph = helper.make_graph(
        nodes,
        "op",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(np.asarray(v), k) for k, v in (init or {}).items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8).SerializeToString()


# --- conv epilogues, through load_model ----------------------------------------------------------
GATES = {  # activation: nodes after the conv's output "c"
    "hardswish": [helper.make_node("HardSwish", ["c"], ["y"])],
    "sigmoid": [helper.make_node("Sigmoid", ["c"], ["y"])],
    "silu": [helper.make_node("Sigmoid", ["c"], ["s"]), helper.make_node("Mul", ["c", "s"], ["y"])],
    "hardswish as HardSigmoid": [
        helper.make_node("HardSigmoid", ["c"], ["s"], alpha=1 / 6, beta=0.5),
        helper.make_node("Mul", ["s", "c"], ["y"]),
    ],
}
CONVS = {  # name: (input shape, weight shape, attributes, label start)
    "pointwise": ((2, 16, 7, 7), (24, 16, 1, 1), {}, "conv1x1[xnnpack]"),
    "depthwise 3x3": ((2, 13, 9, 9), (13, 1, 3, 3), dict(group=13, pads=[1, 1, 1, 1]), "dwconv3x3s1[xnnpack]"),
    "stem 3x3 s2": ((1, 3, 17, 16), (8, 3, 3, 3), dict(strides=[2, 2], pads=[1, 1, 1, 1]), "conv3x3s2[xnnpack]"),
    "grouped": ((1, 8, 6, 6), (12, 4, 3, 3), dict(group=2, pads=[1, 1, 1, 1]), "conv3x3s1g2[xnnpack]"),
}
DEEP_DEPTHWISE = {  # more than 25 taps: passes of the 25-tap kernel
    "depthwise 7x7": ((2, 16, 9, 11), (16, 1, 7, 7), dict(group=16, pads=[3, 3, 3, 3]), "dwconv7x7s1[xnnpack]"),
    "depthwise 7x7 13 channels s2": (
        (1, 13, 12, 12),
        (13, 1, 7, 7),
        dict(group=13, strides=[2, 2], pads=[3, 3, 3, 3]),
        "dwconv7x7s2[xnnpack]",
    ),
    "depthwise 9x9 (4 passes)": (
        (1, 8, 10, 10),
        (8, 1, 9, 9),
        dict(group=8, pads=[4, 4, 4, 4]),
        "dwconv9x9s1[xnnpack]",
    ),
    "depthwise 5x6 (2 passes, 30 taps)": (
        (1, 4, 8, 8),
        (4, 1, 5, 6),
        dict(group=4, pads=[2, 2, 2, 3]),
        "dwconv5x6s1[xnnpack]",
    ),
}


def conv_model(x_shape, w_shape, attrs, after):
    init = {
        "w": RNG.standard_normal(w_shape).astype(np.float32) * 0.5,
        "b": RNG.standard_normal(w_shape[0]).astype(np.float32),
    }
    out = "c" if after else "y"
    conv = helper.make_node("Conv", ["x", "w", "b"], [out], kernel_shape=list(w_shape[2:]), **attrs)
    return model([conv] + after, x_shape, init, opset=14)


MODELS = {}  # key -> (model bytes, input shape, a label the XNNPACK plan must have)
for conv_name, (x_shape, w_shape, attrs, label) in CONVS.items():
    for gate, after in GATES.items():
        activation = gate.split()[0]
        MODELS[f"{conv_name} + {gate}"] = (
            conv_model(x_shape, w_shape, attrs, after),
            x_shape,
            f"{label}|+{activation}",
        )
MODELS["ViT patch embedding 16x16 s16, 3 channels (gathered, K = 768)"] = (
    conv_model((2, 3, 32, 48), (8, 3, 16, 16), dict(strides=[16, 16]), []),
    (2, 3, 32, 48),
    "conv16x16s16[xnnpack]",
)
for conv_name, (x_shape, w_shape, attrs, label) in DEEP_DEPTHWISE.items():
    MODELS[conv_name] = (conv_model(x_shape, w_shape, attrs, []), x_shape, label)
    MODELS[conv_name + " + relu6"] = (
        model(
            [helper.make_node("Conv", ["x", "w"], ["c"], **attrs), helper.make_node("Clip", ["c", "lo", "hi"], ["y"])],
            x_shape,
            {"w": RNG.standard_normal(w_shape).astype(np.float32), "lo": np.float32(0), "hi": np.float32(6)},
        ),
        x_shape,
        label,
    )


def preactivation_model(x_shape):
    """Conv -> BatchNormalization -> Relu, the conv's output also read by an Add, so the BN stays
    a node of its own (DenseNet's BN-ReLU before each conv, on concatenated features)."""
    c = x_shape[1]
    init = {
        "w": RNG.standard_normal((c, c, 1, 1)).astype(np.float32),
        "gamma": RNG.random(c).astype(np.float32) + 0.5,
        "beta": RNG.standard_normal(c).astype(np.float32),
        "mean": RNG.standard_normal(c).astype(np.float32),
        "var": RNG.random(c).astype(np.float32) + 0.1,
    }
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"]),
        helper.make_node("BatchNormalization", ["c", "gamma", "beta", "mean", "var"], ["n"]),
        helper.make_node("Relu", ["n"], ["r"]),
        helper.make_node("Add", ["c", "r"], ["y"]),
    ]
    return model(nodes, x_shape, init)


def squeeze_excite_model(x_shape):
    """Conv -> GlobalAveragePool -> Conv 1x1 -> Sigmoid -> Mul(conv, gate): MobileNetV3's and
    EfficientNet's squeeze-and-excitation, the gate broadcast over H and W."""
    c = x_shape[1]
    init = {
        "w": RNG.standard_normal((c, c, 1, 1)).astype(np.float32),
        "se": RNG.standard_normal((c, c, 1, 1)).astype(np.float32),
    }
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"]),
        helper.make_node("GlobalAveragePool", ["c"], ["p"]),
        helper.make_node("Conv", ["p", "se"], ["s"]),
        helper.make_node("Sigmoid", ["s"], ["g"]),
        helper.make_node("Mul", ["c", "g"], ["y"]),
    ]
    return model(nodes, x_shape, init)


MODELS["squeeze-excite"] = (squeeze_excite_model((2, 12, 5, 6)), (2, 12, 5, 6), "channel_scale[xnnpack]")
MODELS["batchnorm and relu, unfolded"] = (preactivation_model((2, 13, 6, 5)), (2, 13, 6, 5), "affine[xnnpack]")

RUN_MODELS = """
f = np.load(io.BytesIO(data))
out = {}
for key in json.loads(bytes(f["keys"]).decode()):
    for kernels in ("xnnpack", "numpy"):
        m = engine.load_model(f[key + "/model"].tobytes(), kernels=kernels)
        labels = []
        out[f"{key}/{kernels}"] = m.run(f[key + "/x"], lambda step, i, o, s: labels.append(step.label)).copy()
        out[f"{key}/{kernels}/labels"] = np.frombuffer(json.dumps(labels).encode(), np.uint8)
buf = io.BytesIO()
np.savez(buf, **out)
result = buf.getvalue()
"""


def run_inside(probe, snippet, arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    results = np.load(io.BytesIO(probe.run(snippet, buf.getvalue())))
    return {name: results[name] for name in results.files}


@pytest.fixture(scope="module")
def models_inside(probe):
    arrays = {"keys": np.frombuffer(json.dumps(list(MODELS)).encode(), np.uint8)}
    for name, (onnx_bytes, x_shape, _) in MODELS.items():
        arrays[name + "/model"] = np.frombuffer(onnx_bytes, np.uint8)
        arrays[name + "/x"] = RNG.standard_normal(x_shape).astype(np.float32) * 2
    return run_inside(probe, RUN_MODELS, arrays), arrays


def check(name, results, want, xnnpack_label):
    diffs = {}
    for kernels in ("xnnpack", "numpy"):
        got = results[f"{name}/{kernels}"]
        assert got.shape == want.shape
        diffs[kernels] = float(np.abs(got - want).max())
    diffs["xnnpack vs numpy"] = float(np.abs(results[f"{name}/xnnpack"] - results[f"{name}/numpy"]).max())
    print(name, {kind: f"{d:.1e}" for kind, d in diffs.items()})
    assert max(diffs.values()) <= TOLERANCE * max(1.0, float(np.abs(want).max()))
    labels = json.loads(results[f"{name}/xnnpack/labels"].tobytes())
    start, _, contains = xnnpack_label.partition("|")
    assert any(label.startswith(start) and contains in label for label in labels), labels
    numpy_labels = json.loads(results[f"{name}/numpy/labels"].tobytes())
    assert all("[xnnpack]" not in label for label in numpy_labels), numpy_labels
    return labels


@pytest.mark.parametrize("name", list(MODELS))
def test_conv_epilogues_and_deep_depthwise(models_inside, name):
    """Both kernel sets match onnxruntime; with XNNPACK the activation is in the conv's step
    (its label says so) and no other step is left for it."""
    results, arrays = models_inside
    session = onnxruntime.InferenceSession(arrays[name + "/model"].tobytes(), providers=["CPUExecutionProvider"])
    want = session.run(None, {"x": arrays[name + "/x"]})[0]
    labels = check(name, results, want, MODELS[name][2])
    if "+" in name:
        assert len([label for label in labels if "[xnnpack]" in label and "to_nhwc" not in label]) == 1, labels


# --- the other methods, called as a lowering would -----------------------------------------------
def pool_case(
    op, x_shape, kernel, strides=(1, 1), pads=(0, 0, 0, 0), ceil_mode=0, count_include_pad=0, dilations=(1, 1)
):
    """(ONNX model, input shape, the method call) of a MaxPool / AveragePool."""
    attrs = dict(kernel_shape=list(kernel), strides=list(strides), pads=list(pads), ceil_mode=ceil_mode)
    if op == "MaxPool":
        attrs["dilations"] = list(dilations)
    else:
        attrs["count_include_pad"] = count_include_pad
    out_hw = [
        pool_out_size(x_shape[2 + a], kernel[a], strides[a], pads[a], pads[a + 2], dilations[a], ceil_mode)
        for a in (0, 1)
    ]
    spec = dict(
        shape=[x_shape[0], x_shape[1], *out_hw],
        in_hwc=[x_shape[2], x_shape[3], x_shape[1]],
        kernel=list(kernel),
        strides=list(strides),
        pads=list(pads),
        dilations=list(dilations),
        count_include_pad=bool(count_include_pad),
    )
    what = "max_pool" if op == "MaxPool" else "avg_pool"
    return (
        model([helper.make_node(op, ["x"], ["y"], **attrs)], x_shape, opset=12),
        x_shape,
        {"what": what, "spec": spec, "label": f"{what.replace('_', '')}"},
    )


def unary_case(nodes, x_shape, op, *params, nhwc=False, opset=14):
    return (
        model(nodes, x_shape, opset=opset),
        x_shape,
        {"what": "unary", "args": [op, *params], "nhwc": nhwc, "label": op},
    )


GELU = [
    helper.make_node("Div", ["x", "sqrt2"], ["d"]),
    helper.make_node("Erf", ["d"], ["e"]),
    helper.make_node("Add", ["e", "one"], ["a"]),
    helper.make_node("Mul", ["x", "a"], ["m"]),
    helper.make_node("Mul", ["m", "half"], ["y"]),
]
GELU_INIT = {"sqrt2": np.float32(np.sqrt(2)), "one": np.float32(1), "half": np.float32(0.5)}
LAYER_NORM_INIT = {
    "scale": RNG.standard_normal(40).astype(np.float32),
    "bias": RNG.standard_normal(40).astype(np.float32),
}

CALLS = {  # name: (ONNX model, input shape, the call)
    "maxpool 3x3 s2 pad 1 (resnet)": pool_case("MaxPool", (2, 16, 15, 15), (3, 3), (2, 2), (1, 1, 1, 1)),
    "maxpool 3x3 s2 ceil_mode": pool_case("MaxPool", (1, 5, 10, 9), (3, 3), (2, 2), ceil_mode=1),
    "maxpool 2x2 s2 13 channels": pool_case("MaxPool", (2, 13, 8, 8), (2, 2), (2, 2)),
    "maxpool 3x3 dilated": pool_case("MaxPool", (1, 6, 11, 11), (3, 3), (1, 1), (2, 2, 2, 2), dilations=(2, 2)),
    "avgpool 2x2 s2 (densenet)": pool_case("AveragePool", (2, 16, 8, 8), (2, 2), (2, 2)),
    "avgpool 3x3 pad excluded": pool_case("AveragePool", (1, 7, 9, 9), (3, 3), (1, 1), (1, 1, 1, 1)),
    "avgpool 3x3 s2 pad included ceil": pool_case(
        "AveragePool", (2, 4, 8, 9), (3, 3), (2, 2), (1, 0, 1, 1), ceil_mode=1, count_include_pad=1
    ),
    "avgpool 3x2 asymmetric ceil": pool_case("AveragePool", (1, 6, 7, 8), (3, 2), (2, 2), (1, 0, 1, 1), ceil_mode=1),
    "sigmoid": unary_case([helper.make_node("Sigmoid", ["x"], ["y"])], (3, 7, 11), "sigmoid"),
    "sigmoid NHWC": unary_case([helper.make_node("Sigmoid", ["x"], ["y"])], (2, 5, 3, 4), "sigmoid", nhwc=True),
    "silu": unary_case(
        [helper.make_node("Sigmoid", ["x"], ["s"]), helper.make_node("Mul", ["x", "s"], ["y"])], (2, 600), "silu"
    ),
    "tanh": unary_case([helper.make_node("Tanh", ["x"], ["y"])], (4, 33), "tanh"),
    "hardswish": unary_case([helper.make_node("HardSwish", ["x"], ["y"])], (2, 9, 5, 5), "hardswish", nhwc=True),
    "hardsigmoid": unary_case(
        [helper.make_node("HardSigmoid", ["x"], ["y"], alpha=0.2, beta=0.4)], (5, 7), "hardsigmoid", 0.2, 0.4
    ),
    "softmax": (
        model([helper.make_node("Softmax", ["x"], ["y"], axis=-1)], (2, 3, 7, 197)),
        (2, 3, 7, 197),
        {"what": "softmax", "args": [], "label": "softmax"},
    ),
    "softmax of 5": (
        model([helper.make_node("Softmax", ["x"], ["y"], axis=-1)], (3, 5)),
        (3, 5),
        {"what": "softmax", "args": [], "label": "softmax"},
    ),
    "layer norm": (
        model(
            [helper.make_node("LayerNormalization", ["x", "scale", "bias"], ["y"], axis=-1, epsilon=1e-6)],
            (2, 11, 40),
            LAYER_NORM_INIT,
            opset=17,
        ),
        (2, 11, 40),
        {"what": "layer_norm", "args": ["scale", "bias", 1e-6], "label": "layernorm"},
    ),
}
GELU_CASE = (model(GELU, (3, 197, 64), GELU_INIT), (3, 197, 64), {"what": "unary", "args": ["gelu"], "label": "gelu"})
CALLS["gelu (erf form)"] = GELU_CASE
CONSTANTS = {"scale": LAYER_NORM_INIT["scale"], "bias": LAYER_NORM_INIT["bias"]}


def attention_case(x_shape, scale):
    """softmax(x x^T) x, x: (B, H, T, D) * scale: two batched products of run-time operands and a
    softmax (scale keeps the scores from making it one-hot)."""
    nodes = [
        helper.make_node("Transpose", ["x"], ["t"], perm=[0, 1, 3, 2]),
        helper.make_node("MatMul", ["x", "t"], ["s"]),
        helper.make_node("Softmax", ["s"], ["a"], axis=-1),
        helper.make_node("MatMul", ["a", "x"], ["y"]),
    ]
    return model(nodes, x_shape), x_shape, {"what": "attention", "label": "bmm", "scale": scale}


for perm in ([0, 2, 1, 3], [2, 0, 3, 1], [0, 2, 3, 1, 4]):
    x_shape = (2, 3, 5, 7, 4)[: len(perm)]
    CALLS[f"transpose {perm}"] = (
        model([helper.make_node("Transpose", ["x"], ["y"], perm=perm)], x_shape),
        x_shape,
        {"what": "transpose", "args": [perm], "label": "transpose"},
    )
CALLS["attention, 17 tokens"] = attention_case((1, 3, 17, 8), 0.5)
CALLS["attention, 2 images, 197 tokens"] = attention_case((2, 2, 197, 64), 0.15)

RUN_CALLS = """
from engine import backends
from engine.ops.pool_spec import PoolSpec
from engine.plan import Planner, Value
f = np.load(io.BytesIO(data))
calls = json.loads(bytes(f["calls"]).decode())
out = {}
for key, call in calls.items():
    x = f[key + "/x"]
    args = [f["const/" + a] if isinstance(a, str) and "const/" + a in f.files else a for a in call.get("args", [])]
    for kernels in ("xnnpack", "numpy"):
        p = Planner(13, {}, backends.resolve(kernels))
        value = Value("x", x.shape)
        if call.get("nhwc"):
            value = p.nhwc(value)
        if "spec" in call:
            args = [PoolSpec(**{k: tuple(v) if isinstance(v, list) else v for k, v in call["spec"].items()})]
        if call["what"] == "attention":  # softmax(x x^T) x
            b, h, t, d = x.shape
            scores = p.lower("matmul", value, p.lower("transpose", value, (0, 1, 3, 2)), (b, h, t, t))
            y = p.lower("matmul", p.lower("softmax", scores), value, x.shape)
        else:
            y = p.plain(p.lower(call["what"], value, *args))
        env = {"x": x, **p.constants}
        for step in p.steps:
            env[step.output] = step.kernel(*(env[n] for n in step.inputs), **step.params)
        out[f"{key}/{kernels}"] = np.ascontiguousarray(env[y.name])
        out[f"{key}/{kernels}/labels"] = np.frombuffer(json.dumps([s.label for s in p.steps]).encode(), np.uint8)
buf = io.BytesIO()
np.savez(buf, **out)
result = buf.getvalue()
"""


@pytest.fixture(scope="module")
def calls_inside(probe):
    arrays = {"calls": np.frombuffer(json.dumps({k: c for k, (_, _, c) in CALLS.items()}).encode(), np.uint8)}
    arrays.update({"const/" + k: v for k, v in CONSTANTS.items()})
    for name, (_, x_shape, call) in CALLS.items():
        arrays[name + "/x"] = RNG.standard_normal(x_shape).astype(np.float32) * call.get("scale", 3)
    return run_inside(probe, RUN_CALLS, arrays), arrays


@pytest.mark.parametrize("name", list(CALLS))
def test_backend_methods(calls_inside, name):
    """Both kernel sets match onnxruntime, and the XNNPACK plan used its own kernel."""
    results, arrays = calls_inside
    onnx_bytes, _, call = CALLS[name]
    session = onnxruntime.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    want = session.run(None, {"x": arrays[name + "/x"]})[0]
    check(name, results, want, f"{call['label']}|[xnnpack]")


MISUSE = """
import xnn_kernels as xk
f = lambda *shape: np.ones(shape, np.float32)
geometry = xk.dwconv_geometry(6, 6, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1)
calls = {
    "unary: unknown code": lambda: xk.unary(f(4), f(4), 99),
    "unary: out of another size": lambda: xk.unary(f(4), f(5), 1),
    "gemm epilogue: HardSigmoid (has parameters)": lambda: xk.gemm(f(2, 8), xk.pack_gemm(f(8, 4), f(4)), f(2, 4), 0.0, 6.0,
                                                                   None, xk.ACTIVATIONS.index("hardsigmoid")),
    "pool: divisors of another size": lambda: xk.pool(f(1, 6, 6, 8), geometry, f(1, 3, 3, 8), f(2, 2)),
    "pool: out of another size": lambda: xk.pool(f(1, 6, 6, 8), geometry, f(1, 3, 2, 8), None),
    "softmax: out of another shape": lambda: xk.softmax(f(3, 5), f(5, 3)),
    "layer_norm: scale of another size": lambda: xk.layer_norm(f(3, 5), f(3, 5), 1e-5, f(4), None),
    "bmm: inner dims differ": lambda: xk.bmm(f(2, 3, 4), f(2, 5, 6), f(2, 3, 6)),
    "bmm: batches differ": lambda: xk.bmm(f(2, 3, 4), f(3, 4, 6), f(2, 3, 6)),
    "transpose: not a permutation": lambda: xk.transpose(f(2, 3), f(3, 2), (0, 0)),
    "transpose: out of another shape": lambda: xk.transpose(f(2, 3), f(2, 3), (1, 0)),
    "channel_affine: shift of another size": lambda: xk.channel_affine(f(2, 4), f(4), f(3), f(2, 4), 0.0, 6.0),
    "channel_scale: gate of another size": lambda: xk.channel_scale(f(2, 3, 3, 4), f(2, 3), f(2, 3, 3, 4)),
    "dwconv: 7 taps": lambda: xk.pack_dwconv(f(8, 1, 7, 1), np.ones(8), f(8)),
}
errors = {}
for name, call in calls.items():
    try:
        call()
        errors[name] = None
    except Exception as e:
        errors[name] = type(e).__name__
result = json.dumps(errors).encode()
"""


def test_new_module_functions_refuse_what_does_not_fit(probe):
    """As tests/test_kernels.py's misuse test: every size the new functions would read or write
    is checked against the buffers, so a misuse is an exception, never a read out of bounds."""
    errors = json.loads(probe.run(MISUSE))
    print(errors)
    assert all(errors.values()), [name for name, error in errors.items() if not error]
