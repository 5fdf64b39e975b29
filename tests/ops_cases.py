"""Small ONNX graphs for tests/test_ops.py, built with onnx.helper: one float32 input `x`,
one output `y`. CASES are valid graphs in the attribute forms exporters write at opsets 9-20
with their edge cases; BAD are graphs with one malformed node named 'bad_node'. Ops on integers
and bools are reached through Cast/Shape from x, so both their run-time kernels and their
plan-time folding are exercised."""

import numpy as np
from onnx import TensorProto, helper, numpy_helper

RNG = np.random.default_rng(20261203)
INT64_MAX = np.iinfo(np.int64).max
N = helper.make_node
i64 = np.int64


def graph(nodes, x_shape=(2, 3, 7, 6), init=None, opset=13):
    """ONNX bytes of a one-input (x, float32) one-output (y) model."""
    g = helper.make_graph(
        nodes,
        "ops",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(np.asarray(v), k) for k, v in (init or {}).items()],
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], ir_version=8).SerializeToString()


def as_float(name="y"):
    return N("Cast", [name + "_"], [name], to=TensorProto.FLOAT)


def conv(x, y, channels=3):
    """A 1x1 Conv: its output is stored NHWC, so the next op sees the engine's NHWC layout."""
    return N("Conv", [x, "w_" + y], [y]), {"w_" + y: RNG.standard_normal((channels, channels, 1, 1)).astype(np.float32)}


C1, C1_INIT = conv("x", "c")
ONE = {"one": np.array(1.0, np.float32)}


def pool(op, opset=13, x_shape=(2, 3, 10, 9), after_conv=False, **attrs):
    nodes = [C1] if after_conv else []
    nodes.append(N(op, ["c" if after_conv else "x"], ["y"], **attrs))
    return graph(nodes, x_shape, C1_INIT if after_conv else None, opset)


def unary(op, opset=13, positive=False, **attrs):
    nodes = [N("Abs", ["x"], ["a"]), N("Add", ["a", "half"], ["b"])] if positive else []
    nodes.append(N(op, ["b" if positive else "x"], ["y"], **attrs))
    return graph(nodes, init={"half": np.float32(0.5)}, opset=opset)


def single(op, inputs, init, opset=13, x_shape=(2, 3, 7, 6), **attrs):
    return graph([N(op, ["x", *inputs], ["y"], **attrs)], x_shape, init, opset)


def split(opset, sizes=None, parts=3, axis=2, **attrs):
    """Split x into `parts` and Concat them back in reverse order (every output is used)."""
    outs = [f"s{i}" for i in range(parts)]
    inputs, init = (["x"], {}) if sizes is None or opset < 13 else (["x", "sizes"], {"sizes": np.array(sizes, i64)})
    if sizes is not None and opset < 13:
        attrs["split"] = sizes
    return graph(
        [N("Split", inputs, outs, axis=axis, **attrs), N("Concat", outs[::-1], ["y"], axis=axis)],
        init=init,
        opset=opset,
    )


def slice_(starts, ends, axes=None, steps=None, opset=13):
    if opset < 10:
        return graph(
            [N("Slice", ["x"], ["y"], starts=starts, ends=ends, **({"axes": axes} if axes else {}))], opset=opset
        )
    init = {"starts": np.array(starts, i64), "ends": np.array(ends, i64)}
    names = ["starts", "ends"]
    for name, v in (("axes", axes), ("steps", steps)):
        if v is not None:
            init[name] = np.array(v, i64)
        names.append(name if v is not None else "")
    return graph([N("Slice", ["x", *names], ["y"])], init=init, opset=opset)


def reduce(op, opset, axes, keepdims=1):
    if opset >= (13 if op == "ReduceSum" else 18):
        return graph([N(op, ["x", "axes"], ["y"], keepdims=keepdims)], init={"axes": np.array(axes, i64)}, opset=opset)
    return graph([N(op, ["x"], ["y"], axes=axes, keepdims=keepdims)], opset=opset)


def layer_norm(axis, bias=True, x_shape=(2, 5, 8)):
    norm_shape = x_shape[axis:]
    init = {"scale": RNG.standard_normal(norm_shape).astype(np.float32)}
    if bias:
        init["bias"] = RNG.standard_normal(norm_shape).astype(np.float32)
    return graph(
        [N("LayerNormalization", ["x", "scale"] + (["bias"] if bias else []), ["y"], axis=axis, epsilon=1e-5)],
        x_shape,
        init,
        17,
    )


def decomposed_layer_norm():
    """What exporters write for LayerNorm below opset 17."""
    nodes = [
        N("ReduceMean", ["x"], ["m"], axes=[-1]),
        N("Sub", ["x", "m"], ["d"]),
        N("Pow", ["d", "two"], ["p"]),
        N("ReduceMean", ["p"], ["v"], axes=[-1]),
        N("Add", ["v", "eps"], ["ve"]),
        N("Sqrt", ["ve"], ["s"]),
        N("Div", ["d", "s"], ["n"]),
        N("Mul", ["n", "g"], ["ng"]),
        N("Add", ["ng", "b"], ["y"]),
    ]
    init = {
        "two": np.float32(2),
        "eps": np.float32(1e-5),
        "g": RNG.standard_normal(8).astype(np.float32),
        "b": RNG.standard_normal(8).astype(np.float32),
    }
    return graph(nodes, (2, 5, 8), init, 13)


def einsum(equation, other_shape, x_shape):
    return single(
        "Einsum",
        ["o"],
        {"o": RNG.standard_normal(other_shape).astype(np.float32)},
        x_shape=x_shape,
        equation=equation,
        opset=12,
    )


def ints(*nodes, init=None, opset=13, x_shape=(2, 3, 7, 6)):
    """x -> int64 (scaled by 10, truncated) -> nodes (reading 'xi', writing 'y_') -> float y."""
    head = [N("Mul", ["x", "ten"], ["x10"]), N("Cast", ["x10"], ["xi"], to=TensorProto.INT64)]
    return graph(head + list(nodes) + [as_float()], x_shape, {"ten": np.float32(10), **(init or {})}, opset)


CASES = {
    # pools
    "maxpool 3x3 s2 p1 (resnet)": pool("MaxPool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
    "maxpool after conv, opset 11": pool("MaxPool", 11, after_conv=True, kernel_shape=[3, 3], strides=[2, 2]),
    "maxpool ceil_mode (googlenet)": pool("MaxPool", kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1),
    "maxpool ceil_mode with pads": pool("MaxPool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 0, 1, 1], ceil_mode=1),
    "maxpool dilations": pool("MaxPool", kernel_shape=[2, 3], dilations=[2, 2], strides=[1, 2]),
    "maxpool SAME_UPPER": pool("MaxPool", kernel_shape=[2, 2], strides=[2, 2], auto_pad="SAME_UPPER"),
    "maxpool SAME_LOWER": pool("MaxPool", 18, kernel_shape=[3, 2], strides=[2, 2], auto_pad="SAME_LOWER"),
    "maxpool VALID, storage_order": pool("MaxPool", kernel_shape=[3, 3], auto_pad="VALID", storage_order=1),
    "avgpool 2x2 s2 (densenet)": pool("AveragePool", 11, after_conv=True, kernel_shape=[2, 2], strides=[2, 2]),
    "avgpool pads, count_include_pad 0": pool("AveragePool", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
    "avgpool pads, count_include_pad 1": pool(
        "AveragePool", kernel_shape=[3, 3], pads=[1, 1, 1, 1], count_include_pad=1
    ),
    "avgpool ceil_mode, pads, count 0": pool(
        "AveragePool", 18, kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1
    ),
    "avgpool ceil_mode, pads, count 1": pool(
        "AveragePool", 17, kernel_shape=[3, 3], strides=[2, 2], pads=[0, 1, 1, 0], ceil_mode=1, count_include_pad=1
    ),
    "avgpool SAME_UPPER": pool("AveragePool", kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER"),
    "avgpool SAME_LOWER, count 1": pool(
        "AveragePool", kernel_shape=[2, 3], strides=[2, 2], auto_pad="SAME_LOWER", count_include_pad=1
    ),
    "maxpool SAME_UPPER, ceil_mode": pool(
        "MaxPool", kernel_shape=[3, 3], strides=[3, 2], auto_pad="SAME_UPPER", ceil_mode=1
    ),
    "avgpool dilations (opset 19)": pool("AveragePool", 19, kernel_shape=[2, 2], dilations=[2, 1], pads=[1, 1, 0, 0]),
    "globalmaxpool": pool("GlobalMaxPool"),
    "globalmaxpool after conv": pool("GlobalMaxPool", after_conv=True),
    # one input, element-wise
    **{op.lower(): unary(op) for op in ("Sigmoid", "Tanh", "Erf", "Exp", "Neg", "Abs", "Softplus", "Floor", "Ceil")},
    **{op.lower(): unary(op, positive=True) for op in ("Sqrt", "Log", "Reciprocal")},
    "hardsigmoid": unary("HardSigmoid"),
    "hardsigmoid alpha beta": unary("HardSigmoid", alpha=0.3, beta=0.6),
    "hardswish": unary("HardSwish", 14),
    "leakyrelu": unary("LeakyRelu", alpha=0.2),
    "elu": unary("Elu", alpha=0.7),
    "gelu": unary("Gelu", 20),
    "gelu tanh": unary("Gelu", 20, approximate="tanh"),
    "erf, wide range": graph([N("Mul", ["x", "k"], ["a"]), N("Erf", ["a"], ["y"])], init={"k": np.float32(3)}),
    "sigmoid, large": graph([N("Mul", ["x", "k"], ["a"]), N("Sigmoid", ["a"], ["y"])], init={"k": np.float32(40)}),
    "mish (softplus, tanh, mul)": graph(
        [N("Softplus", ["x"], ["s"]), N("Tanh", ["s"], ["t"]), N("Mul", ["x", "t"], ["y"])]
    ),
    "sigmoid after conv (swish)": graph([C1, N("Sigmoid", ["c"], ["s"]), N("Mul", ["c", "s"], ["y"])], init=C1_INIT),
    # broadcast
    "pow float exponent": single("Pow", ["e"], {"e": np.float32(2)}),
    "pow int64 exponent": single("Pow", ["e"], {"e": np.array([3], i64)}),
    "max variadic": single(
        "Max", ["a", "b"], {"a": RNG.standard_normal((3, 1, 1)).astype(np.float32), "b": np.float32(0.1)}
    ),
    "min variadic": single(
        "Min", ["a", "b"], {"a": RNG.standard_normal((6,)).astype(np.float32), "b": np.float32(0.2)}
    ),
    "sum variadic, opset 11": single("Sum", ["a", "x"], {"a": RNG.standard_normal((7, 1)).astype(np.float32)}, 11),
    "max of one": single("Max", [], {}),
    "where greater": graph(
        [N("Greater", ["x", "zero"], ["g"]), N("Where", ["g", "x", "k"], ["y"])],
        init={"zero": np.float32(0), "k": np.float32(-3)},
    ),
    "where after conv": graph(
        [C1, N("Less", ["c", "zero"], ["g"]), N("Where", ["g", "c", "x"], ["y"])],
        init={"zero": np.float32(0), **C1_INIT},
    ),
    "compare and logic": graph(
        [
            N("GreaterOrEqual", ["x", "lo"], ["a"]),
            N("LessOrEqual", ["x", "hi"], ["b"]),
            N("And", ["a", "b"], ["ab"]),
            N("Equal", ["x", "x"], ["e"]),
            N("Or", ["ab", "e"], ["o"]),
            N("Not", ["ab"], ["n"]),
            N("Xor", ["n", "o"], ["y_"]),
            as_float(),
        ],
        init={"lo": np.float32(-0.5), "hi": np.float32(0.5)},
    ),
    "equal int64": ints(N("Equal", ["xi", "three"], ["y_"]), init={"three": np.array(3, i64)}),
    "mod int64": ints(N("Mod", ["xi", "k"], ["y_"]), init={"k": np.array([3, -4, 5, 7, -2, 6], i64)}),
    "mod fmod float": single("Mod", ["k"], {"k": np.float32(0.3)}, fmod=1),
    "div int64 truncates": ints(N("Div", ["xi", "k"], ["y_"]), init={"k": np.array([3, -4, 5, 7, -2, 6], i64)}),
    # layout and shapes
    "transpose default perm": single("Transpose", [], {}),
    "transpose perm": single("Transpose", [], {}, perm=[0, 2, 3, 1]),
    "transpose after conv": graph([C1, N("Transpose", ["c"], ["y"], perm=[0, 3, 1, 2])], init=C1_INIT),
    "slice attributes (opset 9)": slice_([1, 0], [3, -1], [2, 3], opset=9),
    "slice opset 11, no axes": slice_([0, 1, 2], [1, 3, 100], opset=11),
    "slice negative steps": slice_([-1, 5, INT64_MAX], [-INT64_MAX, 0, -8], [2, 3, 1], [-2, -1, -1]),
    "slice clamps": slice_([-100, 2], [INT64_MAX, 100], [-1, 2], [2, 3]),
    "slice negative step from before 0": slice_([-100], [-INT64_MAX], [3], [-1]),
    "squeeze attribute (opset 11)": graph([N("Squeeze", ["x"], ["y"], axes=[1])], (2, 1, 4), opset=11),
    "squeeze input": graph([N("Squeeze", ["x", "a"], ["y"])], (2, 1, 4, 1), {"a": np.array([-1, 1], i64)}),
    "squeeze without axes": graph([N("Squeeze", ["x"], ["y"])], (1, 3, 1, 4)),
    "unsqueeze opset 11": graph([N("Unsqueeze", ["x"], ["y"], axes=[0, -1])], (3, 4), opset=11),
    "split equal (opset 11)": split(11, axis=3),
    "split attribute uneven (opset 11)": split(11, [1, 4, 2]),
    "split input uneven": split(13, [3, 0, 4]),
    "split num_outputs uneven (opset 18)": split(18, num_outputs=3),
    "split 2 equal (opset 18)": split(18, parts=2, axis=3, num_outputs=2),
    "expand": single("Expand", ["s"], {"s": np.array([3, 1, 1, 1, 1], i64)}),
    "expand a constant to x's shape": graph(
        [N("Shape", ["x"], ["s"]), N("Expand", ["k", "s"], ["e"]), N("Add", ["x", "e"], ["y"])],
        init={"k": np.float32(2)},
    ),
    "tile": single("Tile", ["r"], {"r": np.array([1, 2, 1, 3], i64)}),
    "cast to int64 and back": ints(N("Identity", ["xi"], ["y_"])),
    "cast to bool": graph(
        [N("Cast", ["x"], ["b"], to=TensorProto.BOOL), N("Cast", ["b"], ["y"], to=TensorProto.FLOAT)]
    ),
    "castlike": graph(
        [N("CastLike", ["x", "i"], ["c"]), N("CastLike", ["c", "one"], ["y"])],
        init={"i": np.array([0], np.int32), **ONE},
        opset=15,
    ),
    "constantofshape": graph(
        [
            N("Shape", ["x"], ["s"]),
            N("ConstantOfShape", ["s"], ["k"], value=numpy_helper.from_array(np.array([2.5], np.float32))),
            N("Add", ["x", "k"], ["y"]),
        ]
    ),
    "constantofshape default, int64": ints(
        N("Shape", ["x"], ["s"]),
        N("ConstantOfShape", ["s"], ["z"]),
        N("Cast", ["z"], ["zi"], to=TensorProto.INT64),
        N("Add", ["xi", "zi"], ["y_"]),
    ),
    "range int64": ints(
        N("Range", ["a", "b", "d"], ["r"]),
        N("Add", ["xi", "r"], ["y_"]),
        init={"a": np.array(10, i64), "b": np.array(-2, i64), "d": np.array(-2, i64)},
    ),
    "range float": graph(
        [N("Range", ["a", "b", "d"], ["r"]), N("Mul", ["x", "r"], ["y"])],
        init={"a": np.float32(0.5), "b": np.float32(3.5), "d": np.float32(0.5)},
    ),
    "scatternd": single(
        "ScatterND",
        ["i", "u"],
        {"i": np.array([[0, 1], [1, -1]], i64), "u": RNG.standard_normal((2, 7, 6)).astype(np.float32)},
    ),
    "scatternd add (opset 16)": single(
        "ScatterND",
        ["i", "u"],
        {"i": np.array([[1, 2, 3], [1, 2, 3]], i64), "u": np.ones((2, 6), np.float32)},
        16,
        reduction="add",
    ),
    # reductions, normalisation
    **{
        f"{op.lower()} opset {o}": reduce(op, o, [1, -1])
        for op in ("ReduceSum", "ReduceMax", "ReduceL2")
        for o in (11, 13, 18)
    },
    "reducemin keepdims 0": reduce("ReduceMin", 13, [2], 0),
    "reduceprod opset 18": reduce("ReduceProd", 18, [0, 3], 0),
    "reducemax after conv": graph([C1, N("ReduceMax", ["c"], ["y"], axes=[1, 3])], init=C1_INIT),
    "reducesum all, int64": ints(N("ReduceSum", ["xi"], ["y_"])),
    "argmax": graph([N("ArgMax", ["x"], ["y_"], axis=1), as_float()]),
    "argmax last, keepdims 0": graph(
        [N("Round", ["x"], ["r"]), N("ArgMax", ["r"], ["y_"], axis=-1, keepdims=0, select_last_index=1), as_float()]
    ),
    "layernorm last axis": layer_norm(-1),
    "layernorm last 2 axes, no bias": layer_norm(1, bias=False),
    "layernorm decomposed (opset 13)": decomposed_layer_norm(),
    "softmax axis 1 (4-D)": single("Softmax", [], {}, axis=1),
    "softmax axis -1 (4-D)": single("Softmax", [], {}, axis=-1),
    "softmax opset 11 (flattens at axis)": single("Softmax", [], {}, 11, axis=2),
    "softmax after conv": graph([C1, N("Softmax", ["c"], ["y"], axis=1)], init=C1_INIT),
    "logsoftmax axis 1": single("LogSoftmax", [], {}, axis=1),
    "logsoftmax opset 11": single("LogSoftmax", [], {}, 11),
    # products
    "matmul attention (B,H,T,D)@(B,H,D,T)": graph(
        [N("Transpose", ["x"], ["t"], perm=[0, 1, 3, 2]), N("MatMul", ["x", "t"], ["y"])]
    ),
    "matmul run-time broadcast": graph(
        [N("Transpose", ["x"], ["t"], perm=[1, 0, 3, 2]), N("MatMul", ["x", "t"], ["y"])], (2, 1, 4, 5)
    ),
    "matmul constant (D, E)": single("MatMul", ["w"], {"w": RNG.standard_normal((6, 4)).astype(np.float32)}),
    "einsum bhid,bhjd->bhij": einsum("bhid,bhjd->bhij", (2, 3, 6, 5), (2, 3, 4, 5)),
    "einsum bij,bjk->bik": einsum("bij,bjk->bik", (2, 5, 3), (2, 4, 5)),
    "einsum ...ij,jk->...ik": einsum("...ij,jk->...ik", (5, 3), (2, 3, 4, 5)),
    "einsum implicit output": einsum("ij,jk", (5, 3), (4, 5)),
    "einsum transpose, one operand": graph([N("Einsum", ["x"], ["y"], equation="nchw->nhwc")], opset=12),
}

CASES["shape ops on a symbolic batch"] = graph(
    [
        N("Shape", ["x"], ["s"]),
        N("Gather", ["s", "zero"], ["n"]),
        N("Range", ["zero", "n", "one"], ["r"]),
        N("Cast", ["r"], ["rf"], to=TensorProto.FLOAT),
        N("Reshape", ["rf", "col"], ["rc"]),
        N("ConstantOfShape", ["s"], ["k"], value=numpy_helper.from_array(np.array([0.5], np.float32))),
        N("Add", ["x", "rc"], ["a"]),
        N("Mul", ["a", "k"], ["y"]),
    ],
    ("N", 3, 4),
    {"zero": np.array(0, i64), "one": np.array(1, i64), "col": np.array([-1, 1, 1], i64)},
)
# Cast to float16 is computed in float32 by the engine (see docs/operators.md), onnxruntime rounds.
CASES["cast to float16 and back"] = graph(
    [N("Cast", ["x"], ["h"], to=TensorProto.FLOAT16), N("Cast", ["h"], ["y"], to=TensorProto.FLOAT)]
)
LOOSER = {"cast to float16 and back": 1e-3}


def named(op, inputs=("x",), outputs=("y",), **attrs):
    return N(op, list(inputs), list(outputs), name="bad_node", **attrs)


BAD = {
    "unknown auto_pad": graph([named("MaxPool", kernel_shape=[3, 3], auto_pad="SAME")]),
    "1-D pool kernel": graph([named("AveragePool", kernel_shape=[3])]),
    "pool of a 3-D input": graph([named("MaxPool", kernel_shape=[3, 3])], (2, 3, 7)),
    "window larger than the input": graph([named("MaxPool", kernel_shape=[9, 3])]),
    "maxpool indices": graph([named("MaxPool", outputs=("y", "i"), kernel_shape=[3, 3])]),
    "perm not a permutation": graph([named("Transpose", perm=[0, 1, 1, 2])]),
    "perm of another rank": graph([named("Transpose", perm=[1, 0])]),
    "slice lengths differ": graph(
        [named("Slice", ("x", "s", "e"))], init={"s": np.array([0, 1], i64), "e": np.array([2], i64)}
    ),
    "slice step 0": graph(
        [named("Slice", ("x", "s", "e", "", "st"))],
        init={"s": np.array([0], i64), "e": np.array([2], i64), "st": np.array([0], i64)},
    ),
    "slice axis out of range": graph(
        [named("Slice", ("x", "s", "e", "a"))],
        init={"s": np.array([0], i64), "e": np.array([2], i64), "a": np.array([4], i64)},
    ),
    "slice starts from run time": graph([N("Shape", ["x"], ["s"]), named("Slice", ("x", "s", "s"))], ("N", 3)),
    "squeeze a dim that is not 1": graph([named("Squeeze", ("x", "a"))], init={"a": np.array([1], i64)}),
    "split sizes do not add up": graph(
        [named("Split", ("x", "s"), ("a", "b")), N("Add", ["a", "b"], ["y"])], init={"s": np.array([1, 2], i64)}
    ),
    "split output count": graph([named("Split", ("x",), ("a", "b"), axis=2), N("Add", ["a", "b"], ["y"])]),
    "einsum rank mismatch": graph([named("Einsum", equation="ijk->kji")], opset=12),
    "einsum operand count": graph([named("Einsum", equation="ij,jk->ik")], opset=12),
    "tile repeats of another rank": graph([named("Tile", ("x", "r"))], init={"r": np.array([2, 2], i64)}),
    "expand to a shape that does not broadcast": graph(
        [named("Expand", ("x", "s"))], init={"s": np.array([5, 1], i64)}
    ),
    "gelu approximate": graph([named("Gelu", approximate="fast")], opset=20),
    "scatternd reduction": graph(
        [named("ScatterND", ("x", "i", "x"), reduction="sum")], opset=16, init={"i": np.array([[0]], i64)}
    ),
    "scatternd index out of range": graph(
        [named("ScatterND", ("x", "i", "u"))], init={"i": np.array([[2]], i64), "u": np.ones((1, 3, 7, 6), np.float32)}
    ),
    "range delta 0": graph(
        [named("Range", ("a", "b", "a"), ("r",)), N("Add", ["x", "r"], ["y"])],
        init={"a": np.float32(0), "b": np.float32(6)},
    ),
    "cast to string": graph([named("Cast", to=TensorProto.STRING)]),
    "layernorm axis": graph([named("LayerNormalization", ("x", "g"), axis=4)], init={"g": np.float32(1)}, opset=17),
    "argmax axis": graph([named("ArgMax", axis=-5)]),
    "reduce axes": graph([named("ReduceMax", axes=[7])]),
    "where shapes": graph([named("Where", ("c", "x", "x"))], init={"c": np.array([True, False])}),
    "constantofshape value of 2": graph(
        [
            named("ConstantOfShape", ("s",), ("k",), value=numpy_helper.from_array(np.float32([1, 2]))),
            N("Add", ["x", "k"], ["y"]),
        ],
        init={"s": np.array([2], i64)},
    ),
}


def small_cnn():
    """Conv/BN-free CNN with the ops float16 exports of torchvision models have around them."""
    init = {
        "w1": RNG.standard_normal((8, 3, 3, 3)).astype(np.float32) * 0.3,
        "b1": RNG.standard_normal(8).astype(np.float32),
        "w2": RNG.standard_normal((10, 8)).astype(np.float32) * 0.3,
        "b2": RNG.standard_normal(10).astype(np.float32),
    }
    nodes = [
        N("Conv", ["x", "w1", "b1"], ["c"], pads=[1, 1, 1, 1]),
        N("Sigmoid", ["c"], ["s"]),
        N("Mul", ["c", "s"], ["a"]),
        N("MaxPool", ["a"], ["p"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        N("GlobalAveragePool", ["p"], ["g"]),
        N("Flatten", ["g"], ["f"]),
        N("Gemm", ["f", "w2", "b2"], ["y"], transB=1),
    ]
    return graph(nodes, (1, 3, 16, 16), init)


SMALL_CNN = small_cnn()
