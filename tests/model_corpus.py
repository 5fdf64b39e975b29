"""Hostile ONNX model files for the engine's tests (tests/test_hostile_models.py): a few small
valid seed models made with onnx.helper, named broken cases with the error each must give, and
a seeded generator of mutants (truncations, byte and bit flips, protobuf fields deleted or
duplicated at the wire level, dims blown up, attributes and tensors made absurd).

    seeds()        -> {name: model bytes}, each loads and runs
    cases()        -> {name: (model bytes, text the ModelError must hold, or None: it loads)}
    mutants(n, seed) -> [(name, bytes)], the same list for the same arguments
"""
import numpy as np
from onnx import TensorProto, helper, numpy_helper

OPSET = 13


def _model(nodes, inputs, init, outputs=(("y", None),), opset=OPSET):
    graph = helper.make_graph(
        nodes, "seed", [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in outputs],
        initializer=[v if isinstance(v, TensorProto) else numpy_helper.from_array(np.asarray(v), k)
                     for k, v in init.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)


def conv_net():
    """Conv + BN + ReLU6 -> depthwise conv -> pool -> Flatten -> Gemm: the classifier's shape."""
    rng = np.random.default_rng(1)
    f = lambda *s: rng.standard_normal(s).astype(np.float32) * 0.3  # noqa: E731
    init = {"w1": f(8, 3, 3, 3), "b1": f(8), "g": f(8) + 1, "be": f(8), "m": f(8), "v": np.abs(f(8)) + 0.5,
            "lo": np.array(0, np.float32), "hi": np.array(6, np.float32), "w2": f(8, 1, 3, 3),
            "fw": f(10, 8), "fb": f(10)}
    nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="stem", pads=[1, 1, 1, 1], strides=[2, 2]),
             helper.make_node("BatchNormalization", ["c1", "g", "be", "m", "v"], ["bn"], name="bn"),
             helper.make_node("Clip", ["bn", "lo", "hi"], ["r"], name="relu6"),
             helper.make_node("Conv", ["r", "w2"], ["c2"], name="dw", group=8, pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
             helper.make_node("GlobalAveragePool", ["c2"], ["p"], name="pool"),
             helper.make_node("Flatten", ["p"], ["fl"], name="flatten"),
             helper.make_node("Gemm", ["fl", "fw", "fb"], ["y"], name="fc", transB=1)]
    return _model(nodes, [("x", [1, 3, 16, 16])], init)


def gemm_head():
    """A symbolic batch: Shape -> Gather -> Concat -> Reshape (int64 constants in typed fields),
    MatMul + Add + Relu, Gemm, Softmax."""
    rng = np.random.default_rng(2)
    init = {"w": rng.standard_normal((32, 16)).astype(np.float32), "b": rng.standard_normal(16).astype(np.float32),
            "fw": rng.standard_normal((10, 16)).astype(np.float32),
            "minus1": helper.make_tensor("minus1", TensorProto.INT64, [1], [-1]),  # int64_data, not raw
            "zero": helper.make_tensor("zero", TensorProto.INT64, [], [0])}
    nodes = [helper.make_node("Shape", ["x"], ["s"], name="shape"),
             helper.make_node("Gather", ["s", "zero"], ["n"], name="batch", axis=0),
             helper.make_node("Unsqueeze", ["n", "zero1"], ["n1"], name="unsqueeze"),
             helper.make_node("Constant", [], ["zero1"], name="axes",
                              value=helper.make_tensor("axes", TensorProto.INT64, [1], [0])),
             helper.make_node("Concat", ["n1", "minus1"], ["target"], name="concat", axis=0),
             helper.make_node("Reshape", ["x", "target"], ["flat"], name="reshape"),
             helper.make_node("MatMul", ["flat", "w"], ["mm"], name="matmul"),
             helper.make_node("Add", ["mm", "b"], ["a"], name="add"),
             helper.make_node("Relu", ["a"], ["h"], name="relu"),
             helper.make_node("Gemm", ["h", "fw"], ["logits"], name="fc", transB=1, alpha=0.5),
             helper.make_node("Softmax", ["logits"], ["y"], name="softmax", axis=1)]
    return _model(nodes, [("x", ["N", 2, 16])], init)


def seeds():
    return {"conv net": conv_net().SerializeToString(), "gemm head": gemm_head().SerializeToString()}


# --- the protobuf wire format, enough to cut and splice fields ----------------------------------
def _varint(value):
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


def _field(number, payload):
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _splice(buf, path, edit):
    """buf with edit(submessage bytes) applied to the submessage at path (a list of indices
    into fields() of each level), lengths re-encoded on the way up."""
    if not path:
        return edit(buf)
    number, _, key_start, value_start, end = fields(buf)[path[0]]
    return buf[:key_start] + _field(number, _splice(buf[value_start:end], path[1:], edit)) + buf[end:]


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
        buf = buf[fields(buf)[i][3]:fields(buf)[i][4]]
        try:
            fields(buf)  # a string, not a message: stop at its parent
        except (IndexError, ValueError):
            path.pop()
            break
    return path


# --- named broken models ------------------------------------------------------------------------
def _with(model, change):
    change(model)
    return model.SerializeToString()


def _cycle(m):
    m.graph.node[5].input[0] = "fc_out"  # flatten reads what the Gemm after it writes
    m.graph.node[6].output[0] = "fc_out"
    m.graph.node.append(helper.make_node("Relu", ["fc_out"], ["y"], name="after"))


def _tensor(m, name):
    return next(t for t in m.graph.initializer if t.name == name)


def _external(m):
    t = _tensor(m, "w1")
    t.ClearField("raw_data")
    t.data_location = TensorProto.EXTERNAL
    t.external_data.add(key="location", value="../../../../etc/passwd")


def _both_fields(m):
    _tensor(m, "fb").float_data.extend([1.0] * 10)


def _dims(m, name, dims):
    t = _tensor(m, name)
    del t.dims[:]
    t.dims.extend(dims)


def _deep_graph_attribute(depth):
    """A Relu whose (ignored) graph attribute nests `depth` graphs: built as bytes, since
    protobuf's own serializer refuses such depth."""
    inner = b""
    for _ in range(depth):  # GraphProto.node (1) -> NodeProto.attribute (5) -> AttributeProto.g (6)
        inner = _field(1, _field(5, _field(6, inner)))
    node = helper.make_node("Relu", ["x"], ["y"], name="relu").SerializeToString()
    node += _field(5, _field(1, b"g") + _varint(20 << 3) + _varint(5) + _field(6, inner))  # name, type GRAPH, g
    m = _model([], [("x", [1, 4])], {})
    graph = m.graph.SerializeToString() + _field(1, node)
    return _replace_graph(m.SerializeToString(), graph)


def _replace_graph(model_bytes, graph_bytes):
    out = b""
    for number, _, key_start, value_start, end in fields(model_bytes):
        out += _field(7, graph_bytes) if number == 7 else model_bytes[key_start:end]
    return out


def _field_bytes(model, path, make):
    """The model's bytes with the field at `path` replaced by make()."""
    data = model.SerializeToString()
    return _splice(data, path[:-1], lambda buf: _replace_field(buf, path[-1], make))


def _replace_field(buf, index, make):
    _, _, key_start, _, end = fields(buf)[index]
    return buf[:key_start] + make() + buf[end:]


def _graph_path(model_bytes):
    return next(i for i, f in enumerate(fields(model_bytes)) if f[0] == 7)


def _reversed_chain(count):
    nodes = [helper.make_node("Relu", [f"v{i}"], [f"v{i + 1}"], name=f"r{i}") for i in range(count)]
    nodes[0].input[0], nodes[-1].output[0] = "x", "y"
    return _model(nodes[::-1], [("x", [1, 4])], {}).SerializeToString()


def cases():
    """{name: (bytes, what the ModelError must say, or None when the model must load and run)}."""
    conv, head = conv_net, gemm_head
    graph_at = _graph_path(conv().SerializeToString())
    node_path = [graph_at, next(i for i, f in enumerate(fields(conv().graph.SerializeToString())) if f[0] == 1)]
    huge_varint = _replace_graph(conv().SerializeToString(), conv().graph.SerializeToString() + b"\x08" + b"\xff" * 11)
    over_64_bits = _replace_graph(conv().SerializeToString(),
                                  conv().graph.SerializeToString() + b"\x08" + b"\xff" * 9 + b"\x7f")
    return {
        "cycle": (_with(conv(), _cycle), "cycle"),
        "missing input": (_with(conv(), lambda m: m.graph.node[3].input.__setitem__(0, "nowhere")), "nowhere"),
        "shape mismatch": (_with(conv(), lambda m: _tensor(m, "fw").CopyFrom(numpy_helper.from_array(
            np.zeros((10, 9), np.float32), "fw"))), "inner dims differ"),
        "dims disagree with the data": (_with(conv(), lambda m: _dims(m, "fw", [10, 9])), "bytes of data"),
        "tensor data shorter than its dims": (_with(conv(), lambda m: setattr(
            _tensor(m, "w1"), "raw_data", _tensor(m, "w1").raw_data[:-4])), "bytes of data"),
        "raw_data and float_data both": (_with(conv(), _both_fields), "both raw_data and typed"),
        "external data": (_with(conv(), _external), "external file"),
        "2**62 elements": (_with(conv(), lambda m: _dims(m, "fb", [2**31, 2**31])), "impossible dims"),
        "a dim of 2**62": (_with(conv(), lambda m: _dims(m, "fb", [2**62])), "impossible dims"),
        "negative dims": (_with(conv(), lambda m: _dims(m, "fb", [-2, -5])), "impossible dims"),
        "input of 2**62 elements": (_with(conv(), lambda m: m.graph.input[0].type.tensor_type.shape.dim[2]
                                          .__setattr__("dim_value", 2**62)), "impossible dims"),
        "input too large for any instance": (_with(conv(), lambda m: [
            m.graph.input[0].type.tensor_type.shape.dim[i].__setattr__("dim_value", 2**20) for i in (2, 3)]),
            "too large for any instance"),
        "graph attribute nested 20000 deep": (_deep_graph_attribute(20000), None),
        "11-byte varint": (huge_varint, "varint longer than 10 bytes"),
        "varint over 64 bits": (over_64_bits, "larger than 64 bits"),
        "op_type as a varint": (_field_bytes(conv(), node_path + [
            next(i for i, f in enumerate(fields(conv().graph.node[0].SerializeToString())) if f[0] == 4)],
            lambda: _varint(4 << 3) + _varint(7)), "wire type"),
        "unknown dtype": (_with(conv(), lambda m: setattr(_tensor(m, "fb"), "data_type", 99)), "data type 99"),
        "string dtype": (_with(conv(), lambda m: setattr(_tensor(m, "fb"), "data_type", TensorProto.STRING)),
                         "data type 8"),
        "zero-size initializer": (_with(conv(), lambda m: m.graph.initializer.append(
            numpy_helper.from_array(np.zeros((0, 7), np.float32), "unused"))), None),
        "two nodes write one value": (_with(conv(), lambda m: m.graph.node[4].output.__setitem__(0, "c1")),
                                      "is written by"),
        "a node writes an initializer": (_with(conv(), lambda m: m.graph.node[0].output.__setitem__(0, "fw")),
                                         "is written by"),
        "two initializers of one name": (_with(conv(), lambda m: m.graph.initializer.append(
            numpy_helper.from_array(np.zeros(3, np.float32), "fb"))), "two initializers"),
        "node without outputs": (_with(conv(), lambda m: m.graph.node[4].ClearField("output")), "no outputs"),
        "empty graph": (_with(conv(), lambda m: m.graph.ClearField("node")), "not produced"),
        "no outputs": (_with(conv(), lambda m: m.graph.ClearField("output")), "no outputs"),
        "no graph": (_with(conv(), lambda m: m.ClearField("graph")), "no graph"),
        "zero strides": (_with(conv(), lambda m: m.graph.node[0].attribute[1].ints.__setitem__(slice(None), [0, 0])),
                         "stem"),
        "tensor attribute without a tensor": (_with(head(), lambda m: m.graph.node[3].attribute[0].ClearField("t")),
                                              "holds a tensor but has none"),
        "10000 nodes in reverse order": (_reversed_chain(10000), None),
    }


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
    return f"field {k} of {path} deleted", _splice(data, path, lambda b: _replace_field(b, k, lambda: b""))


def _duplicate_field(rng, data):
    path = _random_path(rng, data, int(rng.integers(0, 5)))
    found = fields(_sub(data, path))
    if not found:
        return "nothing to duplicate", data
    k = int(rng.integers(0, len(found)))
    key_start, end = found[k][2], found[k][4]
    return f"field {k} of {path} duplicated", _splice(data, path, lambda b: b[:end] + b[key_start:end] + b[end:])


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


def mutants(count, seed=20261203):
    """`count` mutants of the seeds, in turn: [(name, bytes)], the same for the same arguments."""
    rng = np.random.default_rng(seed)
    out = []
    sources = list(seeds().items())
    for i in range(count):
        seed_name, data = sources[i % len(sources)]
        mutation = MUTATIONS[(i // len(sources)) % len(MUTATIONS)]
        what, mutant = mutation(rng, data)
        out.append((f"{i}: {seed_name}, {what}", mutant))
    return out
