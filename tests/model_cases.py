"""Named broken ONNX models (tests/test_hostile_models.py), one per way a file can be wrong,
each with what the engine's ModelError must say (or None: the model must load and run).

    cases() -> {name: (model bytes, text the ModelError must hold, or None)}
"""

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from model_corpus import conv_net, field, fields, gemm_head, make_model, replace_field, splice, varint


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
        inner = field(1, field(5, field(6, inner)))
    node = helper.make_node("Relu", ["x"], ["y"], name="relu").SerializeToString()
    node += field(5, field(1, b"g") + varint(20 << 3) + varint(5) + field(6, inner))  # name, type GRAPH, g
    m = make_model([], [("x", [1, 4])], {})
    graph = m.graph.SerializeToString() + field(1, node)
    return _replace_graph(m.SerializeToString(), graph)


def _replace_graph(model_bytes, graph_bytes):
    out = b""
    for number, _, key_start, _value_start, end in fields(model_bytes):
        out += field(7, graph_bytes) if number == 7 else model_bytes[key_start:end]
    return out


def _field_bytes(model, path, make):
    """The model's bytes with the field at `path` replaced by make()."""
    data = model.SerializeToString()
    return splice(data, path[:-1], lambda buf: replace_field(buf, path[-1], make))


def _graph_path(model_bytes):
    return next(i for i, f in enumerate(fields(model_bytes)) if f[0] == 7)


def reversed_chain(count):
    """A chain of `count` Relu nodes, listed last first (a valid model: sorting must be cheap)."""
    nodes = [helper.make_node("Relu", [f"v{i}"], [f"v{i + 1}"], name=f"r{i}") for i in range(count)]
    nodes[0].input[0], nodes[-1].output[0] = "x", "y"
    return make_model(nodes[::-1], [("x", [1, 4])], {}).SerializeToString()


def cases():
    """{name: (bytes, what the ModelError must say, or None when the model must load and run)}."""
    conv, head = conv_net, gemm_head
    graph_at = _graph_path(conv().SerializeToString())
    node_path = [graph_at, next(i for i, f in enumerate(fields(conv().graph.SerializeToString())) if f[0] == 1)]
    huge_varint = _replace_graph(conv().SerializeToString(), conv().graph.SerializeToString() + b"\x08" + b"\xff" * 11)
    over_64_bits = _replace_graph(
        conv().SerializeToString(), conv().graph.SerializeToString() + b"\x08" + b"\xff" * 9 + b"\x7f"
    )
    return {
        "cycle": (_with(conv(), _cycle), "cycle"),
        "missing input": (_with(conv(), lambda m: m.graph.node[3].input.__setitem__(0, "nowhere")), "nowhere"),
        "shape mismatch": (
            _with(
                conv(),
                lambda m: _tensor(m, "fw").CopyFrom(numpy_helper.from_array(np.zeros((10, 9), np.float32), "fw")),
            ),
            "inner dims differ",
        ),
        "dims disagree with the data": (_with(conv(), lambda m: _dims(m, "fw", [10, 9])), "bytes of data"),
        "tensor data shorter than its dims": (
            _with(conv(), lambda m: setattr(_tensor(m, "w1"), "raw_data", _tensor(m, "w1").raw_data[:-4])),
            "bytes of data",
        ),
        "raw_data and float_data both": (_with(conv(), _both_fields), "both raw_data and typed"),
        "external data": (_with(conv(), _external), "external file"),
        "2**62 elements": (_with(conv(), lambda m: _dims(m, "fb", [2**31, 2**31])), "impossible dims"),
        "a dim of 2**62": (_with(conv(), lambda m: _dims(m, "fb", [2**62])), "impossible dims"),
        "negative dims": (_with(conv(), lambda m: _dims(m, "fb", [-2, -5])), "impossible dims"),
        "input of 2**62 elements": (
            _with(conv(), lambda m: m.graph.input[0].type.tensor_type.shape.dim[2].__setattr__("dim_value", 2**62)),
            "impossible dims",
        ),
        "input too large for any instance": (
            _with(
                conv(),
                lambda m: [
                    m.graph.input[0].type.tensor_type.shape.dim[i].__setattr__("dim_value", 2**20) for i in (2, 3)
                ],
            ),
            "too large for any instance",
        ),
        "graph attribute nested 20000 deep": (_deep_graph_attribute(20000), None),
        "11-byte varint": (huge_varint, "varint longer than 10 bytes"),
        "varint over 64 bits": (over_64_bits, "larger than 64 bits"),
        "op_type as a varint": (
            _field_bytes(
                conv(),
                node_path
                + [next(i for i, f in enumerate(fields(conv().graph.node[0].SerializeToString())) if f[0] == 4)],
                lambda: varint(4 << 3) + varint(7),
            ),
            "wire type",
        ),
        "unknown dtype": (_with(conv(), lambda m: setattr(_tensor(m, "fb"), "data_type", 99)), "data type 99"),
        "string dtype": (
            _with(conv(), lambda m: setattr(_tensor(m, "fb"), "data_type", TensorProto.STRING)),
            "data type 8",
        ),
        "zero-size initializer": (
            _with(
                conv(),
                lambda m: m.graph.initializer.append(numpy_helper.from_array(np.zeros((0, 7), np.float32), "unused")),
            ),
            None,
        ),
        "two nodes write one value": (
            _with(conv(), lambda m: m.graph.node[4].output.__setitem__(0, "c1")),
            "is written by",
        ),
        "a node writes an initializer": (
            _with(conv(), lambda m: m.graph.node[0].output.__setitem__(0, "fw")),
            "is written by",
        ),
        "two initializers of one name": (
            _with(conv(), lambda m: m.graph.initializer.append(numpy_helper.from_array(np.zeros(3, np.float32), "fb"))),
            "two initializers",
        ),
        "node without outputs": (_with(conv(), lambda m: m.graph.node[4].ClearField("output")), "no outputs"),
        "empty graph": (_with(conv(), lambda m: m.graph.ClearField("node")), "not produced"),
        "no outputs": (_with(conv(), lambda m: m.graph.ClearField("output")), "no outputs"),
        "no graph": (_with(conv(), lambda m: m.ClearField("graph")), "no graph"),
        "zero strides": (
            _with(conv(), lambda m: m.graph.node[0].attribute[1].ints.__setitem__(slice(None), [0, 0])),
            "stem",
        ),
        "tensor attribute without a tensor": (
            _with(head(), lambda m: m.graph.node[3].attribute[0].ClearField("t")),
            "holds a tensor but has none",
        ),
    }
