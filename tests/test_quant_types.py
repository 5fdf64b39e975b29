"""Quantized types beyond int8 (test_int8.py runs whole quantized nets of them): 4-bit tensors
as a file stores them, blocked quantization (opset 21), and the forms that stay a clear error."""

import numpy as np
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

import engine
from engine.errors import ModelError
from engine.onnx_reader import read_model

RNG = np.random.default_rng(4)
INT4, UINT4 = TensorProto.INT4, TensorProto.UINT4


def graph_of(nodes, init, x_shape=(2, 6), opset=21, extra=()):
    """A model of nodes on float input x -> float output y; init: name -> ndarray or TensorProto."""
    tensors = [v if isinstance(v, TensorProto) else numpy_helper.from_array(np.asarray(v), k) for k, v in init.items()]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=tensors,
    )
    opsets = [helper.make_opsetid("", opset), *extra]
    return helper.make_model(graph, opset_imports=opsets, ir_version=10).SerializeToString()


def four_bit(name, values, signed, raw):
    """A 4-bit TensorProto of values: packed bytes in raw_data, or packed into int32_data."""
    values = np.asarray(values)
    flat = values.reshape(-1).astype(np.int64) & 0x0F
    padded = np.append(flat, 0) if flat.size % 2 else flat
    packed = (padded[0::2] | (padded[1::2] << 4)).astype(np.uint8)
    kind = INT4 if signed else UINT4
    tensor = helper.make_tensor(name, kind, values.shape, packed.tobytes(), raw=True)
    if not raw:
        tensor.ClearField("raw_data")
        tensor.int32_data.extend(int(b) for b in packed)
    return tensor


@pytest.mark.parametrize("raw", [True, False], ids=["raw_data", "int32_data"])
@pytest.mark.parametrize("signed", [True, False], ids=["int4", "uint4"])
def test_four_bit_initializers_read_as_their_values(signed, raw):
    """Two values a byte, the first in the low nibble; int4 sign-extended; an odd count
    leaves the last high nibble unused."""
    values = RNG.integers(-8, 8, (3, 5)) if signed else RNG.integers(0, 16, (3, 5))
    data = graph_of(
        [helper.make_node("DequantizeLinear", ["w", "s"], ["y"])],
        {"w": four_bit("w", values, signed, raw), "s": np.float32(1)},
    )
    initializers = read_model(data).graph.initializers
    got = initializers["w"]
    assert got.dtype == (np.int8 if signed else np.uint8) and got.shape == (3, 5)
    assert np.array_equal(got, values) and initializers.four_bit("w") and not initializers.four_bit("s")


def test_a_four_bit_tensor_of_the_wrong_size_is_a_model_error():
    tensor = four_bit("w", np.zeros((3, 5), np.int8), True, raw=True)
    tensor.raw_data = tensor.raw_data[:-1]
    data = graph_of([helper.make_node("DequantizeLinear", ["w", "s"], ["y"])], {"w": tensor, "s": np.float32(1)})
    with pytest.raises(ModelError, match=r"'w' has 7 bytes of data for dims \[3, 5\] of int4, two to a byte \(8"):
        engine.load_model(data)


@pytest.mark.parametrize("code, name", [(TensorProto.FLOAT8E4M3FN, "float8e4m3fn"), (TensorProto.BFLOAT16, "bfloat16")])
def test_types_no_op_computes_on_are_named(code, name):
    tensor = helper.make_tensor("w", code, [2], [1.0, 2.0])
    data = graph_of([helper.make_node("DequantizeLinear", ["w", "s"], ["y"])], {"w": tensor, "s": np.float32(1)})
    with pytest.raises(ModelError, match=f"'w' has data type {code} \\({name}\\): not supported"):
        engine.load_model(data)


def reference(data, x):
    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


@pytest.mark.parametrize("signed", [True, False], ids=["int4", "uint4"])
def test_blocked_four_bit_weights_match_onnxruntime(signed):
    """DequantizeLinear with block_size (a scale and zero point per 4 input rows of a MatMul's
    weight, 10 rows: the last block short), folded at plan time."""
    rows, cols, block = 10, 7, 4
    blocks = -(-rows // block)
    w = RNG.integers(-8, 8, (rows, cols)) if signed else RNG.integers(0, 16, (rows, cols))
    zero = RNG.integers(-2, 3, (blocks, cols)) if signed else RNG.integers(6, 10, (blocks, cols))
    init = {
        "w": four_bit("w", w, signed, raw=True),
        "s": (RNG.random((blocks, cols)) * 0.1 + 0.01).astype(np.float32),
        "z": four_bit("z", zero, signed, raw=True),
    }
    nodes = [
        helper.make_node("DequantizeLinear", ["w", "s", "z"], ["wf"], axis=0, block_size=block),
        helper.make_node("MatMul", ["x", "wf"], ["y"]),
    ]
    data = graph_of(nodes, init, x_shape=(3, rows))
    x = RNG.standard_normal((3, rows)).astype(np.float32)
    expected = x @ ((w - np.repeat(zero, block, axis=0)[:rows]) * np.repeat(init["s"], block, axis=0)[:rows])
    np.testing.assert_allclose(reference(data, x), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(engine.load_model(data, kernels="numpy").run(x), expected, rtol=1e-5, atol=1e-5)


def test_blocked_quantization_of_a_computed_tensor_is_a_model_error():
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], axis=1, block_size=2)]
    nodes.append(helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], axis=1, block_size=2))
    data = graph_of(nodes, {"s": np.full((2, 3), 0.1, np.float32), "z": np.zeros((2, 3), np.int8)})
    with pytest.raises(ModelError, match="blocked quantization of a computed tensor is not supported"):
        engine.load_model(data)


def test_a_block_size_that_does_not_fit_its_scale_is_a_model_error():
    nodes = [helper.make_node("DequantizeLinear", ["w", "s"], ["wf"], axis=0, block_size=4)]
    nodes.append(helper.make_node("MatMul", ["x", "wf"], ["y"]))
    init = {"w": np.ones((10, 7), np.int8), "s": np.ones((2, 7), np.float32)}
    with pytest.raises(ModelError, match=r"block_size 4: its scale's shape \(2, 7\) does not block input"):
        engine.load_model(graph_of(nodes, init, x_shape=(3, 10)))


@pytest.mark.parametrize("how", ["a 4-bit zero point", "output_dtype int4"])
def test_quantizing_to_four_bits_is_a_model_error(how):
    """Only weights come in 4 bits; an int4 output would need its own saturation."""
    if how == "output_dtype int4":
        node = helper.make_node("QuantizeLinear", ["x", "s"], ["q"], output_dtype=INT4)
        init = {"s": np.float32(0.1)}
    else:
        node = helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"])
        init = {"s": np.float32(0.1), "z": four_bit("z", np.zeros((), np.int8), True, raw=True)}
    nodes = [node, helper.make_node("DequantizeLinear", ["q", "s"], ["y"])]
    with pytest.raises(ModelError, match="4-bit outputs are not supported"):
        engine.load_model(graph_of(nodes, init))


def test_sixteen_bit_quantize_saturates_as_onnxruntime_does():
    """QuantizeLinear to int16/uint16 (com.microsoft's form too) and back: rounding half to
    even, saturating, as onnxruntime."""
    ms = [helper.make_opsetid("com.microsoft", 1)]
    x = np.array([[-1e6, -3.25, -0.05, 0.05, 0.15, 1e6]], np.float32)
    for zero in (np.int16(-7), np.uint16(40000)):
        for domain in ("", "com.microsoft"):
            nodes = [
                helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], domain=domain),
                helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], domain=domain),
            ]
            data = graph_of(nodes, {"s": np.float32(0.1), "z": zero}, x_shape=(1, 6), extra=ms)
            np.testing.assert_array_equal(engine.load_model(data).run(x), reference(data, x))


def test_a_cast_to_four_bits_is_a_model_error():
    """4-bit values are read widened, never computed in: a Cast to int4 would need their wrap."""
    data = graph_of([helper.make_node("Cast", ["x"], ["y"], to=INT4)], {})
    with pytest.raises(ModelError, match="unsupported data type 22"):
        engine.load_model(data)
