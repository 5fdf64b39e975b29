"""The engine's kernels inside the component: XNNPACK's (the xnn_kernels module that
wasi/kernels builds) and numpy's, each against onnxruntime on the same ONNX bytes, for every
conv variant the lowering tells apart and the other steps with an XNNPACK path (layout change,
pooling, Gemm/MatMul); the module's own checks; and the buffer-sharing rule (natively, on
synthetic steps)."""

import io
import json

import numpy as np
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

from engine.buffers import Output, share
from engine.plan import Step

TOLERANCE = 1e-4
RNG = np.random.default_rng(20261201)

# name: (input (N, C, H, W), weight (Cout, C/group, kh, kw), conv attributes, expected label start)
CASES = {
    "pointwise": ((2, 16, 7, 7), (24, 16, 1, 1), {}, "conv1x1[xnnpack]"),
    "pointwise odd channels": ((3, 13, 5, 9), (21, 13, 1, 1), {}, "conv1x1[xnnpack]"),
    "pointwise one pixel": ((1, 40, 1, 1), (10, 40, 1, 1), {}, "conv1x1[xnnpack]"),
    "pointwise s2": ((2, 16, 7, 7), (8, 16, 1, 1), dict(strides=[2, 2]), "conv1x1s2[xnnpack]"),
    "pointwise padded": ((1, 5, 4, 4), (6, 5, 1, 1), dict(pads=[1, 0, 0, 1]), "conv1x1s1[xnnpack]"),
    "stem 3x3 s2": ((2, 3, 17, 16), (32, 3, 3, 3), dict(strides=[2, 2], pads=[1, 1, 1, 1]), "conv3x3s2[xnnpack]"),
    "stem SAME_UPPER": (
        (1, 3, 16, 15),
        (16, 3, 3, 3),
        dict(strides=[2, 2], auto_pad="SAME_UPPER"),
        "conv3x3s2[xnnpack]",
    ),
    "3x3 asymmetric pads": (
        (1, 3, 10, 11),
        (5, 3, 3, 3),
        dict(strides=[2, 2], pads=[0, 1, 2, 0]),
        "conv3x3s2[xnnpack]",
    ),
    "5x5 s1": ((2, 4, 9, 8), (7, 4, 5, 5), dict(pads=[2, 2, 2, 2]), "conv5x5s1[xnnpack]"),
    "rectangular kernel": ((2, 3, 7, 9), (4, 3, 3, 1), {}, "conv3x1s1[xnnpack]"),
    "dilated": ((1, 4, 12, 12), (4, 4, 3, 3), dict(dilations=[2, 2], pads=[2, 2, 2, 2]), "conv3x3s1d[xnnpack]"),
    "grouped 2": ((2, 8, 6, 6), (12, 4, 3, 3), dict(group=2, pads=[1, 1, 1, 1]), "conv3x3s1g2[xnnpack]"),
    "grouped pointwise 4": ((2, 8, 5, 5), (8, 2, 1, 1), dict(group=4), "conv1x1s1g4[xnnpack]"),
    "grouped odd 3": (
        (1, 9, 7, 7),
        (6, 3, 3, 3),
        dict(group=3, strides=[2, 2], pads=[1, 1, 1, 1]),
        "conv3x3s2g3[xnnpack]",
    ),
    "depthwise multiplier 2": ((2, 4, 6, 6), (8, 1, 3, 3), dict(group=4, pads=[1, 1, 1, 1]), "conv3x3s1g4[xnnpack]"),
    "depthwise 3x3": ((2, 32, 9, 9), (32, 1, 3, 3), dict(group=32, pads=[1, 1, 1, 1]), "dwconv3x3s1[xnnpack]"),
    "depthwise 3x3 s2 odd width": (
        (2, 24, 11, 13),
        (24, 1, 3, 3),
        dict(group=24, strides=[2, 2], pads=[1, 1, 1, 1]),
        "dwconv3x3s2[xnnpack]",
    ),
    "depthwise 3x3 13 channels": (
        (1, 13, 8, 7),
        (13, 1, 3, 3),
        dict(group=13, pads=[1, 1, 1, 1]),
        "dwconv3x3s1[xnnpack]",
    ),
    "depthwise 3x3 3 channels": ((3, 3, 6, 6), (3, 1, 3, 3), dict(group=3, pads=[0, 1, 2, 1]), "dwconv3x3s1[xnnpack]"),
    "depthwise 3x3 no pads": ((1, 8, 6, 5), (8, 1, 3, 3), dict(group=8), "dwconv3x3s1[xnnpack]"),
    "depthwise 3x3 SAME_LOWER s2": (
        (1, 12, 10, 10),
        (12, 1, 3, 3),
        dict(group=12, strides=[2, 2], auto_pad="SAME_LOWER"),
        "dwconv3x3s2[xnnpack]",
    ),
    "depthwise 5x5 s2 SAME_UPPER": (
        (2, 20, 11, 12),
        (20, 1, 5, 5),
        dict(group=20, strides=[2, 2], auto_pad="SAME_UPPER"),
        "dwconv5x5s2[xnnpack]",
    ),
    "depthwise 5x5 asymmetric": (
        (1, 21, 11, 11),
        (21, 1, 5, 5),
        dict(group=21, strides=[2, 2], pads=[1, 2, 2, 1]),
        "dwconv5x5s2[xnnpack]",
    ),
    "depthwise 5x5 s1": ((1, 16, 7, 9), (16, 1, 5, 5), dict(group=16, pads=[2, 2, 2, 2]), "dwconv5x5s1[xnnpack]"),
    "depthwise 9x1": ((1, 8, 12, 5), (8, 1, 9, 1), dict(group=8, pads=[4, 0, 4, 0]), "dwconv9x1s1[xnnpack]"),
    "depthwise dilated": (
        (1, 8, 12, 12),
        (8, 1, 3, 3),
        dict(group=8, dilations=[2, 1], pads=[2, 1, 2, 1]),
        "dwconv3x3s1d[xnnpack]",
    ),
    "depthwise stride 2x1": (
        (1, 8, 9, 9),
        (8, 1, 3, 3),
        dict(group=8, strides=[2, 1], pads=[1, 1, 1, 1]),
        "dwconv3x3s2x1[xnnpack]",
    ),
    "depthwise 7x7": ((1, 8, 9, 9), (8, 1, 7, 7), dict(group=8, pads=[3, 3, 3, 3]), "dwconv7x7s1[xnnpack]"),
    "depthwise 7x1 (numpy)": ((1, 8, 9, 9), (8, 1, 7, 1), dict(group=8, pads=[3, 0, 3, 0]), "dwconv7x1s1[numpy]"),
}
EPILOGUES = {  # what follows the conv, fused into it; y: the conv's output, r: another conv's
    "": lambda y: [],
    "relu6": lambda y: [helper.make_node("Clip", [y, "lo", "hi"], ["y"])],
    "residual": lambda y: [helper.make_node("Add", [y, "r"], ["y"])],
    "relu residual": lambda y: [helper.make_node("Relu", [y], ["a"]), helper.make_node("Add", ["a", "r"], ["y"])],
}


def conv_model(x_shape, w_shape, attrs, bias, epilogue):
    """Conv [+ epilogue]. The residual r is a plain conv of the input with the same geometry
    (so of the same shape, and computed at run time)."""
    init = {
        "w": RNG.standard_normal(w_shape).astype(np.float32) * 0.5,
        "lo": np.array(0, np.float32),
        "hi": np.array(6, np.float32),
    }
    if bias:
        init["b"] = RNG.standard_normal(w_shape[0]).astype(np.float32)
    conv_out = "y" if epilogue == "" else "c"
    nodes = []
    if "residual" in epilogue:
        init["rw"] = RNG.standard_normal((w_shape[0], x_shape[1], *w_shape[2:])).astype(np.float32) * 0.5
        nodes.append(
            helper.make_node(
                "Conv", ["x", "rw"], ["r"], name="residual", **{k: v for k, v in attrs.items() if k != "group"}
            )
        )
    nodes.append(
        helper.make_node(
            "Conv",
            ["x", "w"] + (["b"] if bias else []),
            [conv_out],
            name="conv",
            kernel_shape=list(w_shape[2:]),
            **attrs,
        )
    )
    nodes += EPILOGUES[epilogue](conv_out)
    graph = helper.make_graph(
        nodes,
        "kernel",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(v, k) for k, v in init.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8).SerializeToString()


# --- the other steps with an XNNPACK path --------------------------------------------------------
def graph_model(nodes, x_shape, init, opset=13):
    graph = helper.make_graph(
        nodes,
        "op",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(np.asarray(v), k) for k, v in init.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8).SerializeToString()


def head(x_shape, n, c_shape=None, pool="GlobalAveragePool", **gemm):
    """Conv 1x1 (so the pool sees NHWC) -> pool -> Flatten -> Gemm with a (N, K) weight (transB)."""
    k = x_shape[1]
    init = {
        "cw": RNG.standard_normal((k, k, 1, 1)).astype(np.float32) * 0.3,
        "w": RNG.standard_normal((n, k)).astype(np.float32) * 0.3,
    }
    pool_node = (
        helper.make_node("ReduceMean", ["c"], ["p"], axes=[2, 3], keepdims=1)
        if pool == "ReduceMean"
        else helper.make_node(pool, ["c"], ["p"])
    )
    nodes = [helper.make_node("Conv", ["x", "cw"], ["c"]), pool_node, helper.make_node("Flatten", ["p"], ["f"])]
    if c_shape is not None:
        init["b"] = RNG.standard_normal(c_shape).astype(np.float32)
    nodes.append(helper.make_node("Gemm", ["f", "w"] + (["b"] if c_shape is not None else []), ["y"], transB=1, **gemm))
    return graph_model(nodes, x_shape, init)


def matmul(x_shape, w_shape):
    init = {"w": RNG.standard_normal(w_shape).astype(np.float32)}
    return graph_model([helper.make_node("MatMul", ["x", "w"], ["y"])], x_shape, init)


# name: (model bytes, input shape, a label the XNNPACK plan must have)
OTHERS = {
    "head: pool, gemm with bias": (head((2, 24, 7, 7), 10, (10,)), (2, 24, 7, 7), "matmul[xnnpack] 24->10"),
    "head: batch 1, 13 channels, 1x1 map": (head((1, 13, 1, 1), 5, (1, 5)), (1, 13, 1, 1), "mean_hw[xnnpack]"),
    "head: ReduceMean, alpha and beta": (
        head((3, 16, 5, 6), 7, (7,), "ReduceMean", alpha=0.5, beta=2.0),
        (3, 16, 5, 6),
        "mean_hw[xnnpack]",
    ),
    "head: gemm without bias": (head((2, 8, 4, 4), 9), (2, 8, 4, 4), "matmul[xnnpack] 8->9"),
    "head: gemm with a (M, N) C (numpy)": (head((2, 8, 4, 4), 9, (2, 9)), (2, 8, 4, 4), "matmul[numpy] 8->9"),
    "matmul 2-D": (matmul((5, 12), (12, 7)), (5, 12), "matmul[xnnpack] 12->7"),
    "matmul 3-D": (matmul((2, 5, 12), (12, 7)), (2, 5, 12), "matmul[xnnpack] 12->7"),
    "layout change of a 5-channel input": (
        graph_model(
            [helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])],
            (2, 5, 9, 7),
            {"w": RNG.standard_normal((4, 5, 3, 3)).astype(np.float32)},
        ),
        (2, 5, 9, 7),
        "to_nhwc[xnnpack]",
    ),
}


# --- inside the component: every case with both kernel sets ------------------------------------
VARIANTS = [(case, bias, epilogue) for case in CASES for bias in (True, False) for epilogue in EPILOGUES]

RUN_BOTH = """
f = np.load(io.BytesIO(data))
out = {}
for key in json.loads(bytes(f["keys"]).decode()):
    x = f[key + "/x"]
    for kernels in ("xnnpack", "numpy"):
        model = engine.load_model(f[key + "/model"].tobytes(), kernels=kernels)
        labels = []
        first = model.run(x, lambda step, inputs, output, seconds: labels.append(step.label))
        kept = first.copy()
        second = model.run(x)  # the buffers of the first pass are reused
        out[f"{key}/{kernels}"] = first
        out[f"{key}/{kernels}/unchanged"] = np.array(np.array_equal(first, kept) and np.array_equal(first, second))
        out[f"{key}/{kernels}/labels"] = np.frombuffer(json.dumps(labels).encode(), np.uint8)
buf = io.BytesIO()
np.savez(buf, **out)
result = buf.getvalue()
"""


def key(variant):
    case, bias, epilogue = variant
    return f"{case}|{'bias' if bias else 'no bias'}|{epilogue or 'plain'}"


def conv_variant(case, bias, epilogue):
    x_shape, w_shape, attrs, label = CASES[case]
    return conv_model(x_shape, w_shape, attrs, bias, epilogue), x_shape, label


# key -> (model bytes, input shape, a label the XNNPACK plan must have)
MODELS = {**{key(v): conv_variant(*v) for v in VARIANTS}, **OTHERS}


@pytest.fixture(scope="module")
def inside(probe):
    """Every model run inside the probe component with both kernel sets (one instance)."""
    arrays = {}
    for name, (model, x_shape, _) in MODELS.items():
        arrays[name + "/model"] = np.frombuffer(model, np.uint8)
        arrays[name + "/x"] = RNG.standard_normal(x_shape).astype(np.float32)
    arrays["keys"] = np.frombuffer(json.dumps(list(MODELS)).encode(), np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    results = np.load(io.BytesIO(probe.run(RUN_BOTH, buf.getvalue())))
    return {name: results[name] for name in results.files}, arrays


@pytest.mark.parametrize("name", list(MODELS))
def test_inside_component(inside, name):
    """XNNPACK's and numpy's kernels inside the component both match onnxruntime (and so each
    other), and the plan took the kernel the case is about."""
    results, arrays = inside
    session = onnxruntime.InferenceSession(arrays[name + "/model"].tobytes(), providers=["CPUExecutionProvider"])
    want = session.run(None, {"x": arrays[name + "/x"]})[0]
    diffs = {}
    for kernels in ("xnnpack", "numpy"):
        got = results[f"{name}/{kernels}"]
        assert got.shape == want.shape
        diffs[kernels] = float(np.abs(got - want).max())
        assert bool(results[f"{name}/{kernels}/unchanged"]), "a second pass changed the result of the first"
    diffs["xnnpack vs numpy"] = float(np.abs(results[f"{name}/xnnpack"] - results[f"{name}/numpy"]).max())
    print(name, {kind: f"{d:.1e}" for kind, d in diffs.items()})
    assert max(diffs.values()) <= TOLERANCE
    labels = json.loads(results[f"{name}/xnnpack/labels"].tobytes())
    assert any(label.startswith(MODELS[name][2]) for label in labels), labels
    if "|" in name and "residual" in name.split("|")[2]:  # the add went into the conv
        assert "add" not in labels and any(label.endswith("+res") for label in labels), labels
    numpy_labels = json.loads(results[f"{name}/numpy/labels"].tobytes())
    assert all("[xnnpack]" not in label for label in numpy_labels), numpy_labels


MISUSE = """
import xnn_kernels as xk
x = np.ones((1, 6, 6, 8), np.float32)
w = np.ones((8, 1, 3, 3), np.float32)
packed = xk.pack_dwconv(w, np.ones(8), np.zeros(8, np.float32))
geometry = xk.dwconv_geometry(6, 6, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1)
out = np.empty((1, 6, 6, 8), np.float32)
assert xk.dwconv(x, packed, geometry, out, 0.0, 6.0) is out and out[0, 2, 2, 0] == 6.0 and out[0, 0, 0, 0] == 4.0
calls = {
    "out too small": lambda: xk.dwconv(x, packed, geometry, out[:, :5], 0.0, 6.0),
    "input of another shape": lambda: xk.dwconv(np.ones((1, 6, 5, 8), np.float32), packed, geometry, out, 0.0, 6.0),
    "copied geometry": lambda: xk.dwconv(x, packed, bytes(bytearray(geometry)), out, 0.0, 6.0),
    "geometry of another kernel": lambda: xk.conv(x, packed, geometry, out, 0.0, 6.0),
    "packed weights of another size": lambda: xk.dwconv(x, packed[:-4], geometry, out, 0.0, 6.0),
    "float64 input": lambda: xk.dwconv(x.astype(np.float64), packed, geometry, out, 0.0, 6.0),
    "read-only out": lambda: xk.dwconv(x, packed, geometry, np.frombuffer(bytes(out.nbytes), np.float32).reshape(out.shape),
                                       0.0, 6.0),
    "non-contiguous input": lambda: xk.gemm(x[:, :, ::2], xk.pack_gemm(np.ones((8, 4), np.float32), np.zeros(4, np.float32)),
                                            np.empty((1, 6, 3, 4), np.float32), 0.0, 6.0),
    "gemm residual of another shape": lambda: xk.gemm(x, xk.pack_gemm(np.ones((8, 4), np.float32), np.zeros(4, np.float32)),
                                                      np.empty((1, 6, 6, 4), np.float32), 0.0, 6.0, out),
    "kernel larger than the padded input": lambda: xk.dwconv_geometry(2, 2, 8, 5, 5, 1, 1, 1, 1, 1, 1, 0, 0),
    "negative pad": lambda: xk.conv_geometry(6, 6, 8, 3, 3, 1, 1, 1, 1, -1, 1, 1, 1, 1),
    "channels not a multiple of groups": lambda: xk.conv_geometry(6, 6, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 3),
    "float32 scale": lambda: xk.pack_conv(np.ones((4, 8, 1, 1), np.float32), np.ones(4, np.float32),
                                          np.zeros(4, np.float32), 1),
    "groups not dividing Cout": lambda: xk.pack_conv(np.ones((6, 2, 3, 3), np.float32), np.ones(6), np.zeros(6, np.float32), 4),
    "7 taps": lambda: xk.pack_dwconv(np.ones((8, 1, 7, 1), np.float32), np.ones(8), np.zeros(8, np.float32)),
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


def test_module_refuses_what_does_not_fit(probe):
    """Every size the kernels would read or write is checked against the buffers: a misuse is
    an exception, never a read out of bounds."""
    errors = json.loads(probe.run(MISUSE))
    print(errors)
    assert all(errors.values()), [name for name, error in errors.items() if not error]
    assert {errors["float64 input"], errors["non-contiguous input"]} <= {"TypeError", "ValueError", "BufferError"}


# --- the buffer-sharing rule (natively: it is plain Python) -------------------------------------
def identity(x):
    return x


def step(kernel, inputs, output, out=None):
    return Step(kernel, tuple(inputs), output, {} if out is None else {"out": out}, kernel.__name__)


def test_outputs_share_storage_only_when_lifetimes_do_not_overlap():
    a, b, c, d = (Output((4, 4, 8)) for _ in range(4))
    steps = [
        step(identity, ["x"], "a", a),  # a: read by b's step only
        step(identity, ["a"], "b", b),  # b: read by c's and d's steps
        step(identity, ["b"], "c", c),  # c: a is dead here, so c may take a's storage
        step(identity, ["b", "c"], "d", d),  # d: b and c are read here: neither storage is free
        step(identity, ["d"], "y"),
    ]
    share(steps, "y")
    assert c.storage is a.storage
    assert len({id(o.storage) for o in (b, c, d)}) == 3
    assert d.storage is None  # it reaches the result through a numpy step (may be a view)


def test_views_keep_a_storage_busy():
    """A numpy step's output may be a view of its input: the input's storage stays busy for as
    long as the view is read."""
    a, b = Output((8,)), Output((8,))
    steps = [
        step(identity, ["x"], "a", a),
        step(identity, ["a"], "view"),  # e.g. a reshape
        step(identity, ["x"], "b", b),
        step(identity, ["view", "b"], "y", Output((8,))),
    ]
    share(steps, "y")
    assert a.storage is not None and b.storage is not a.storage


def test_storage_grows_with_the_batch():
    a = Output((2, 3))
    steps = [step(identity, ["x"], "a", a), step(identity, ["a"], "y", Output((2, 3)))]
    share(steps, "y")
    one, three = a.array(1), a.array(3)
    assert one.shape == (1, 2, 3) and three.shape == (3, 2, 3) and three.dtype == np.float32
    assert a.array(2).base is three.base  # a smaller batch reuses the larger buffer
