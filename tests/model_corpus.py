"""Hostile ONNX model files for the engine's tests (tests/test_hostile_models.py): a few small
valid seed models made with onnx.helper, the protobuf wire-format helpers to cut and splice
them, and a seeded generator of mutants (truncations, byte and bit flips, protobuf fields deleted or
duplicated at the wire level, dims blown up, attributes and tensors made absurd).

    seeds()        -> {name: model bytes}, each loads and runs
    quantized_seeds() -> the same for a uint8 QOperator net (the integer kernels' forms)
    mutants(n, seed[, sources]) -> [(name, bytes)], the same list for the same arguments

The named broken models are in tests/model_cases.py.
"""

import numpy as np
from onnx import TensorProto, helper, numpy_helper

OPSET = 13


def make_model(nodes, inputs, init, outputs=(("y", None),), opset=OPSET, domains=()):
    graph = helper.make_graph(
        nodes,
        "seed",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in outputs],
        initializer=[
            v if isinstance(v, TensorProto) else numpy_helper.from_array(np.asarray(v), k) for k, v in init.items()
        ],
    )
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, 1) for d in domains]
    return helper.make_model(graph, opset_imports=opsets, ir_version=8)


def conv_net():
    """Conv + BN + ReLU6 -> depthwise conv -> pool -> Flatten -> Gemm: the classifier's shape."""
    rng = np.random.default_rng(1)
    f = lambda *s: rng.standard_normal(s).astype(np.float32) * 0.3  # noqa: E731
    init = {
        "w1": f(8, 3, 3, 3),
        "b1": f(8),
        "g": f(8) + 1,
        "be": f(8),
        "m": f(8),
        "v": np.abs(f(8)) + 0.5,
        "lo": np.array(0, np.float32),
        "hi": np.array(6, np.float32),
        "w2": f(8, 1, 3, 3),
        "fw": f(10, 8),
        "fb": f(10),
    }
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="stem", pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("BatchNormalization", ["c1", "g", "be", "m", "v"], ["bn"], name="bn"),
        helper.make_node("Clip", ["bn", "lo", "hi"], ["r"], name="relu6"),
        helper.make_node("Conv", ["r", "w2"], ["c2"], name="dw", group=8, pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
        helper.make_node("GlobalAveragePool", ["c2"], ["p"], name="pool"),
        helper.make_node("Flatten", ["p"], ["fl"], name="flatten"),
        helper.make_node("Gemm", ["fl", "fw", "fb"], ["y"], name="fc", transB=1),
    ]
    return make_model(nodes, [("x", [1, 3, 16, 16])], init)


def gemm_head():
    """A symbolic batch: Shape -> Gather -> Concat -> Reshape (int64 constants in typed fields),
    MatMul + Add + Relu, Gemm, Softmax."""
    rng = np.random.default_rng(2)
    init = {
        "w": rng.standard_normal((32, 16)).astype(np.float32),
        "b": rng.standard_normal(16).astype(np.float32),
        "fw": rng.standard_normal((10, 16)).astype(np.float32),
        "minus1": helper.make_tensor("minus1", TensorProto.INT64, [1], [-1]),  # int64_data, not raw
        "zero": helper.make_tensor("zero", TensorProto.INT64, [], [0]),
    }
    nodes = [
        helper.make_node("Shape", ["x"], ["s"], name="shape"),
        helper.make_node("Gather", ["s", "zero"], ["n"], name="batch", axis=0),
        helper.make_node("Unsqueeze", ["n", "zero1"], ["n1"], name="unsqueeze"),
        helper.make_node(
            "Constant", [], ["zero1"], name="axes", value=helper.make_tensor("axes", TensorProto.INT64, [1], [0])
        ),
        helper.make_node("Concat", ["n1", "minus1"], ["target"], name="concat", axis=0),
        helper.make_node("Reshape", ["x", "target"], ["flat"], name="reshape"),
        helper.make_node("MatMul", ["flat", "w"], ["mm"], name="matmul"),
        helper.make_node("Add", ["mm", "b"], ["a"], name="add"),
        helper.make_node("Relu", ["a"], ["h"], name="relu"),
        helper.make_node("Gemm", ["h", "fw"], ["logits"], name="fc", transB=1, alpha=0.5),
        helper.make_node("Softmax", ["logits"], ["y"], name="softmax", axis=1),
    ]
    return make_model(nodes, [("x", ["N", 2, 16])], init)


def uint8_net():
    """A uint8 QOperator classifier (what onnxruntime's quantizer writes by default): quantize,
    stem 3x3/2 and 1x1 and depthwise 3x3 QLinearConvs (int8 weights, zero point 0), QLinearAdd,
    QLinearGlobalAveragePool, Flatten, QGemm with float logits: the int8 kernels' forms."""
    rng = np.random.default_rng(3)
    s8 = lambda *s: rng.integers(-127, 128, s, dtype=np.int8)  # noqa: E731
    init = {
        "xs": np.float32(0.02),
        "xz": np.uint8(128),
        "as": np.float32(0.05),
        "az": np.uint8(10),
        "w1": s8(8, 3, 3, 3),
        "w2": s8(8, 1, 3, 3),
        "w3": s8(8, 8, 1, 1),
        "ws": np.float32(0.01),
        "wz": np.int8(0),
        "fw": s8(10, 8),
        "b": rng.integers(-300, 300, 10, dtype=np.int32),
    }

    def qconv(name, x, w, **attrs):
        inputs = [x, "xs" if x == "q" else "as", "xz" if x == "q" else "az", w, "ws", "wz", "as", "az"]
        return helper.make_node("QLinearConv", inputs, [name], name=name, **attrs)

    nodes = [
        helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["q"], name="quantize"),
        qconv("stem", "q", "w1", pads=[1, 1, 1, 1], strides=[2, 2]),
        qconv("dw", "stem", "w2", group=8, pads=[1, 1, 1, 1]),
        qconv("pw", "dw", "w3"),
        helper.make_node(
            "QLinearAdd",
            ["pw", "as", "az", "stem", "as", "az", "as", "az"],
            ["add"],
            name="add",
            domain="com.microsoft",
        ),
        helper.make_node(
            "QLinearGlobalAveragePool", ["add", "as", "az", "as", "az"], ["p"], name="pool", domain="com.microsoft"
        ),
        helper.make_node("Flatten", ["p"], ["fl"], name="flatten"),
        helper.make_node(
            "QGemm", ["fl", "as", "az", "fw", "ws", "wz", "b"], ["y"], name="fc", transB=1, domain="com.microsoft"
        ),
    ]
    return make_model(nodes, [("x", [1, 3, 16, 16])], init, domains=("com.microsoft",))


def seeds():
    return {"conv net": conv_net().SerializeToString(), "gemm head": gemm_head().SerializeToString()}


def quantized_seeds():
    """Mutated apart (mutants(..., sources=...)), so that the float seeds' mutants stay the same."""
    return {"uint8 net": uint8_net().SerializeToString()}


# --- the protobuf wire format, enough to cut and splice fields ----------------------------------
def varint(value):
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _read_varint(buf, pos):
    result = shift = 0
    while True:
        byte = buf[pos]
        result |= (byte & 0x7F) << shift
        pos += 1
        if byte < 0x80:
            return result, pos
        shift += 7


def fields(buf):
    """[(field number, wire type, start of the key, start of the value, end)] of a valid message."""
    out, pos = [], 0
    while pos < len(buf):
        key, value_start = _read_varint(buf, pos)
        wire = key & 7
        if wire == 2:
            size, value_start = _read_varint(buf, value_start)
            end = value_start + size
        elif wire == 0:
            end = _read_varint(buf, value_start)[1]
        else:
            end = value_start + (8 if wire == 1 else 4)
        out.append((key >> 3, wire, pos, value_start, end))
        pos = end
    return out


def field(number, payload):
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def splice(buf, path, edit):
    """buf with edit(submessage bytes) applied to the submessage at path (a list of indices
    into fields() of each level), lengths re-encoded on the way up."""
    if not path:
        return edit(buf)
    number, _, key_start, value_start, end = fields(buf)[path[0]]
    return buf[:key_start] + field(number, splice(buf[value_start:end], path[1:], edit)) + buf[end:]


def _random_path(rng, buf, depth):
    """A path to a random length-delimited submessage up to `depth` levels down (onnx's own
    messages nest: model -> graph -> node -> attribute -> tensor)."""
    path = []
    for _ in range(depth):
        try:
            candidates = [i for i, f in enumerate(fields(buf)) if f[1] == 2 and f[4] > f[3]]
        except (IndexError, ValueError):
            break
        if not candidates:
            break
        i = int(rng.choice(candidates))
        path.append(i)
        buf = buf[fields(buf)[i][3] : fields(buf)[i][4]]
        try:
            fields(buf)  # a string, not a message: stop at its parent
        except (IndexError, ValueError):
            path.pop()
            break
    return path


# --- seeded mutants -----------------------------------------------------------------------------
def _truncate(rng, data):
    cut = int(rng.integers(0, len(data)))
    return f"truncated at {cut}", data[:cut]


def _flip_bytes(rng, data):
    out = bytearray(data)
    spots = rng.integers(0, len(data), int(rng.integers(1, 6)))
    for spot in spots:
        out[spot] = int(rng.integers(0, 256))
    return f"bytes {sorted(spots.tolist())} replaced", bytes(out)


def _flip_bits(rng, data):
    out = bytearray(data)
    bits = rng.integers(0, 8 * len(data), int(rng.integers(1, 4)))
    for bit in bits:
        out[bit // 8] ^= 1 << (bit % 8)
    return f"bits {sorted(bits.tolist())} flipped", bytes(out)


def _delete_field(rng, data):
    path = _random_path(rng, data, int(rng.integers(0, 5)))
    count = len(fields(_sub(data, path)))
    if not count:
        return "nothing to delete", data
    k = int(rng.integers(0, count))
    return f"field {k} of {path} deleted", splice(data, path, lambda b: replace_field(b, k, lambda: b""))


def _duplicate_field(rng, data):
    path = _random_path(rng, data, int(rng.integers(0, 5)))
    found = fields(_sub(data, path))
    if not found:
        return "nothing to duplicate", data
    k = int(rng.integers(0, len(found)))
    key_start, end = found[k][2], found[k][4]
    return f"field {k} of {path} duplicated", splice(data, path, lambda b: b[:end] + b[key_start:end] + b[end:])


def replace_field(buf, index, make):
    _, _, key_start, _, end = fields(buf)[index]
    return buf[:key_start] + make() + buf[end:]


def _sub(data, path):
    for i in path:
        _, _, _, start, end = fields(data)[i]
        data = data[start:end]
    return data


ABSURD = [0, 1, -1, -(2**62), 2**31, 2**62, 7, 1000]


def _blow_up(rng, data):
    """A dim of an initializer or of the graph input, or an integer attribute, made absurd."""
    from onnx import ModelProto  # here: the generator is all that needs the parsed form

    model = ModelProto.FromString(data)
    value = int(rng.choice(ABSURD))
    kind = int(rng.integers(0, 3))
    if kind == 0 and model.graph.initializer:
        t = model.graph.initializer[int(rng.integers(0, len(model.graph.initializer)))]
        if t.dims:
            t.dims[int(rng.integers(0, len(t.dims)))] = value
            return f"a dim of initializer '{t.name}' set to {value}", model.SerializeToString()
    if kind == 1:
        dims = model.graph.input[0].type.tensor_type.shape.dim
        dims[int(rng.integers(0, len(dims)))].dim_value = value
        return f"an input dim set to {value}", model.SerializeToString()
    attrs = [a for n in model.graph.node for a in n.attribute if a.type in (2, 7)]
    a = attrs[int(rng.integers(0, len(attrs)))]
    if a.type == 2:
        a.i = value
    elif a.ints:
        a.ints[int(rng.integers(0, len(a.ints)))] = value
    else:
        a.ints.append(value)
    return f"attribute '{a.name}' given {value}", model.SerializeToString()


MUTATIONS = [_truncate, _flip_bytes, _flip_bits, _delete_field, _duplicate_field, _blow_up]


def mutants(count, seed=20261203, sources=None):
    """`count` mutants of the seeds (or of `sources`, {name: bytes}), in turn: [(name, bytes)],
    the same for the same arguments."""
    rng = np.random.default_rng(seed)
    out = []
    sources = list((sources or seeds()).items())
    for i in range(count):
        seed_name, data = sources[i % len(sources)]
        mutation = MUTATIONS[(i // len(sources)) % len(MUTATIONS)]
        what, mutant = mutation(rng, data)
        out.append((f"{i}: {seed_name}, {what}", mutant))
    return out
