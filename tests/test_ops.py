"""The engine's operators (numpy kernels) against onnxruntime on the same ONNX bytes: every case
of ops_cases.py natively, a subset inside the component (numpy's and XNNPACK's kernels), the
layouts and plan-time folding the lowerings promise, float16 files, and malformed nodes.
Float32 results must match to 1e-5 relative (atol 1e-6); `pytest -rP` prints the differences.
"""

import io
import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, numpy_helper
from ops_cases import BAD, C1, C1_INIT, CASES, LOOSER, RNG, SMALL_CNN, N, conv, graph, i64

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "component"))

from engine import ModelError, load_model  # noqa: E402


def onnxruntime_run(data, x):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    return session.run(
        None,
        {
            session.get_inputs()[0].name: x.astype(
                session.get_inputs()[0].type == "tensor(float16)" and np.float16 or np.float32
            )
        },
    )[0]


def x_for(data):
    model = load_model(data, kernels="numpy")
    shape = [2 if d is None else d for d in model.input_shape]
    return model, RNG.standard_normal(shape).astype(np.float32)


def check(got, want, rtol=1e-5, label=""):
    want = np.asarray(want).astype(np.float32)
    assert got.shape == want.shape, (got.shape, want.shape)
    diff = float(np.abs(got - want).max()) if want.size else 0.0
    print(f"{label} max |engine - onnxruntime| = {diff:.3g} (|output| up to {np.abs(want).max():.3g})")
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol / 10)


@pytest.mark.parametrize("name", list(CASES))
def test_op_matches_onnxruntime(name):
    model, x = x_for(CASES[name])
    check(model.run(x), onnxruntime_run(CASES[name], x), LOOSER.get(name, 1e-5), name)


def labels(data):
    return [step.label for step in load_model(data, kernels="numpy").plan.steps]


def test_pools_and_unary_ops_keep_the_nhwc_layout():
    """Conv -> MaxPool -> Sigmoid -> Conv is one NHWC run: no layout change between the convs."""
    conv2, init2 = conv("s", "y")
    data = graph(
        [
            C1,
            N("MaxPool", ["c"], ["p"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
            N("Sigmoid", ["p"], ["s"]),
            conv2,
        ],
        init={**C1_INIT, **init2},
    )
    steps = labels(data)
    print(steps)
    assert steps[0] == "to_nhwc" and steps[-1] == "to_nchw" and "to_nhwc" not in steps[1:-1], steps
    model, x = x_for(data)
    check(model.run(x), onnxruntime_run(data, x))


def test_channels_last_block_keeps_the_nhwc_layout():
    """ConvNeXt's block: Conv -> Transpose to (N, H, W, C) -> LayerNorm -> MatMul -> Gelu ->
    Transpose back -> residual Add -> Conv needs no layout change between the convs."""
    conv2, init2 = conv("r", "y")
    nodes = [
        C1,
        N("Transpose", ["c"], ["t"], perm=[0, 2, 3, 1]),
        N("LayerNormalization", ["t", "g"], ["n"]),
        N("MatMul", ["n", "m"], ["h"]),
        N("Gelu", ["h"], ["a"]),
        N("Transpose", ["a"], ["b"], perm=[0, 3, 1, 2]),
        N("Add", ["c", "b"], ["r"]),
        conv2,
    ]
    init = {
        **C1_INIT,
        **init2,
        "g": RNG.standard_normal(3).astype(np.float32),
        "m": RNG.standard_normal((3, 3)).astype(np.float32),
    }
    data = graph(nodes, init=init, opset=20)
    steps = labels(data)
    print(steps)
    assert steps[0] == "to_nhwc" and steps[-1] == "to_nchw" and "to_nhwc" not in steps[1:-1], steps
    assert "to_nchw" not in steps[1:-1], steps
    model, x = x_for(data)
    check(model.run(x), onnxruntime_run(data, x))


@pytest.mark.parametrize("extra_reader", [False, True])
def test_decomposed_gelu_is_one_gelu_step(extra_reader):
    """x * 0.5 * (1 + erf(x / sqrt 2)), as exporters below opset 20 write GELU, plans as one
    gelu step (the backends' unary); with another reader of the Erf's output it stays as is."""
    init = {"sqrt2": np.float32(2**0.5), "one": np.float32(1.0), "half": np.float32(0.5)}
    nodes = [
        N("Div", ["x", "sqrt2"], ["d"]),
        N("Erf", ["d"], ["e"]),
        N("Add", ["e", "one"], ["a"]),
        N("Mul", ["x", "a"], ["m"]),
        N("Mul", ["m", "half"], ["g" if extra_reader else "y"]),
    ]
    if extra_reader:
        nodes.append(N("Add", ["g", "e"], ["y"]))
    data = graph(nodes, init=init)
    model, x = x_for(data)
    check(model.run(x * 3), onnxruntime_run(data, x * 3), label="gelu")
    steps = labels(data)
    assert ("erf" in steps) == extra_reader and any(label.startswith("gelu") for label in steps) != extra_reader


def test_shape_subgraphs_fold_at_plan_time():
    """Shape -> ConstantOfShape/Range/Equal/Where/Expand/Mod/ScatterND/Not on constants: no step
    of them is left in the plan; only the Add that reads x runs."""
    nodes = [
        N("Shape", ["x"], ["s"]),
        N("ConstantOfShape", ["s"], ["z"], value=numpy_helper.from_array(np.array([1], i64))),
        N("Range", ["zero", "four", "one"], ["r"]),
        N("Equal", ["r", "two"], ["e"]),
        N("Not", ["e"], ["ne"]),
        N("Where", ["ne", "r", "ten"], ["w"]),
        N("Mod", ["w", "three"], ["m"]),
        N("ScatterND", ["m", "idx", "upd"], ["sc"]),
        N("Expand", ["sc", "s"], ["ex"]),
        N("Mul", ["ex", "z"], ["p"]),
        N("Cast", ["p"], ["f"], to=TensorProto.FLOAT),
        N("Add", ["x", "f"], ["y"]),
    ]
    init = {
        "zero": np.array(0, i64),
        "four": np.array(6, i64),
        "one": np.array(1, i64),
        "two": np.array(2, i64),
        "ten": np.array(10, i64),
        "three": np.array(4, i64),
        "idx": np.array([[0]], i64),
        "upd": np.array([7], i64),
    }
    data = graph(nodes, init=init)
    assert labels(data) == ["add"]
    model, x = x_for(data)
    check(model.run(x), onnxruntime_run(data, x))


def test_shape_ops_run_with_a_symbolic_batch():
    """With a symbolic batch the shape subgraph runs per request, on int64 vectors."""
    data = CASES["shape ops on a symbolic batch"]
    model = load_model(data, kernels="numpy")
    assert "arange" in labels(data) and "constant_of_shape" in labels(data)
    for batch in (1, 3):
        x = RNG.standard_normal((batch, 3, 4)).astype(np.float32)
        check(model.run(x), onnxruntime_run(data, x))


@pytest.mark.parametrize("name", list(BAD))
def test_bad_node_is_a_model_error_naming_it(name):
    with pytest.raises(ModelError, match="bad_node") as error:
        load_model(BAD[name], kernels="numpy")
    print(error.value)


# --- float16 files -------------------------------------------------------------------------------


@pytest.mark.parametrize("keep_io_types", [True, False])
def test_float16_file_computes_in_float32(keep_io_types):
    """onnxconverter-common's float16 conversion, with float32 or float16 graph I/O: the engine
    reads the float16 weights, computes in float32, takes and returns float32 either way."""
    float16 = pytest.importorskip("onnxconverter_common.float16")
    import onnx

    data = float16.convert_float_to_float16(
        onnx.load_from_string(SMALL_CNN), keep_io_types=keep_io_types
    ).SerializeToString()
    model = load_model(data, kernels="numpy")
    assert model.info["inputs"][0]["dtype"] == ("float32" if keep_io_types else "float16")
    x = RNG.standard_normal((1, 3, 16, 16)).astype(np.float32)
    got, want = model.run(x), onnxruntime_run(data, x).astype(np.float32)
    exact = onnxruntime_run(SMALL_CNN, x)
    print(
        f"float16 file: max |engine - onnxruntime| = {np.abs(got - want).max():.3g}, "
        f"max |engine - float32 model| = {np.abs(got - exact).max():.3g}"
    )
    assert got.dtype == np.float32
    assert np.abs(got - want).max() <= 1e-2 * max(1.0, np.abs(want).max())


# --- inside the component ------------------------------------------------------------------------
INSIDE = [
    "maxpool ceil_mode with pads",
    "avgpool ceil_mode, pads, count 1",
    "maxpool after conv, opset 11",
    "gelu",
    "erf, wide range",
    "hardswish",
    "slice negative steps",
    "split num_outputs uneven (opset 18)",
    "argmax last, keepdims 0",
    "scatternd",
    "mod int64",
    "range int64",
    "einsum bhid,bhjd->bhij",
    "layernorm last 2 axes, no bias",
    "matmul attention (B,H,T,D)@(B,H,D,T)",
    "softmax axis 1 (4-D)",
    "transpose after conv",
    "cast to float16 and back",
    "shape ops on a symbolic batch",
]

RUN_INSIDE = """
f = np.load(io.BytesIO(data))
out = {}
for key in json.loads(bytes(f["keys"]).decode()):
    for kernels in ("numpy", "xnnpack"):
        out[f"{key}/{kernels}"] = engine.load_model(f[key + "/model"].tobytes(), kernels=kernels).run(f[key + "/x"])
buf = io.BytesIO()
np.savez(buf, **out)
result = buf.getvalue()
"""


def test_ops_inside_the_component(probe):
    """The same kernels inside the component (wasm32: numpy's intp is int32 there), with numpy's
    kernels and with XNNPACK's around them (layout changes, convs), match onnxruntime natively."""
    arrays, inputs = {"keys": np.frombuffer(json.dumps(INSIDE).encode(), np.uint8)}, {}
    for name in INSIDE:
        _, inputs[name] = x_for(CASES[name])
        arrays[name + "/model"], arrays[name + "/x"] = np.frombuffer(CASES[name], np.uint8), inputs[name]
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    results = np.load(io.BytesIO(probe.run(RUN_INSIDE, buf.getvalue())))
    for name in INSIDE:
        want = onnxruntime_run(CASES[name], inputs[name])
        for kernels in ("numpy", "xnnpack"):
            check(results[f"{name}/{kernels}"], want, LOOSER.get(name, 1e-5), f"{name} [{kernels}]")


def test_docs_table_is_the_registry():
    """docs/operators.md holds the table tools/ops_table.py makes from the op registry."""
    sys.path.insert(0, str(ROOT))
    from tools.ops_table import DOC, table

    assert table() in DOC.read_text(), "docs/operators.md is out of date: run python tools/ops_table.py --write"
