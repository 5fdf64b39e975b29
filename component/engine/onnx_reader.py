"""ONNX ModelProto bytes -> a plain Python graph (dataclasses, numpy arrays, str, int).

Field numbers are those of onnx/onnx.proto. Only what an inference engine needs is read;
everything else (doc strings, training info, functions, value_info) is skipped.
"""
from dataclasses import dataclass, field
from math import prod

import numpy as np

from .errors import ModelError
from .protobuf import DecodeError, Message

# TensorProto.DataType -> numpy dtype (little-endian, as ONNX stores raw_data).
DTYPES = {1: "<f4", 2: "u1", 3: "i1", 4: "<u2", 5: "<i2", 6: "<i4", 7: "<i8", 9: "?",
           10: "<f2", 11: "<f8", 12: "<u4", 13: "<u8"}
_FLOAT, _INT64, _FLOAT16, _DOUBLE, _UINT32, _UINT64 = 1, 7, 10, 11, 12, 13
_EXTERNAL = 1  # TensorProto.DataLocation

# AttributeProto.AttributeType -> (field number, reader). Graph, sparse-tensor and type-proto
# attributes belong to control-flow ops the engine does not run, so they are not read.
_ATTRIBUTE_READERS = {
    1: (2, lambda m: m.float(2)),                              # FLOAT
    2: (3, lambda m: m.int(3)),                                # INT
    3: (4, lambda m: m.string(4)),                             # STRING
    4: (5, lambda m: read_tensor(m.message(5))),               # TENSOR
    6: (7, lambda m: [float(v) for v in m.fixed(7, "<f4")]),   # FLOATS
    7: (8, lambda m: m.ints(8)),                               # INTS
    8: (9, lambda m: m.strings(9)),                            # STRINGS
    9: (10, lambda m: [read_tensor(t) for t in m.messages(10)]),  # TENSORS
}


@dataclass
class Node:
    op_type: str
    name: str
    inputs: list       # value names; "" marks an omitted optional input
    outputs: list
    attrs: dict        # attribute name -> float | int | str | ndarray | list, as the file has them
    domain: str = ""
    fused: object = None  # what fuse.py merged into a Conv (ops.conv.Epilogue); never from the file


@dataclass
class ValueInfo:
    name: str
    elem_type: int     # TensorProto.DataType, 0 if not declared
    shape: tuple       # each dim an int, a str (symbolic dim_param) or None; None if no shape


@dataclass
class Graph:
    nodes: list
    initializers: dict  # name -> ndarray (mostly views of the file's bytes)
    inputs: list        # ValueInfo of the real inputs (initializers listed as inputs are dropped)
    outputs: list
    name: str = ""


@dataclass
class OnnxModel:
    graph: Graph
    ir_version: int
    producer: str                                  # "name version"
    opsets: dict                                   # domain -> version; "" is ai.onnx
    metadata: dict = field(default_factory=dict)   # metadata_props

    @property
    def opset(self):
        """The version of the default (ai.onnx) operator set."""
        return self.opsets.get("", self.opsets.get("ai.onnx"))


def read_model(data):
    """Parse the bytes of a .onnx file; raise ModelError if they are not a usable model."""
    try:
        return _model(Message(data))
    except DecodeError as err:
        raise ModelError(f"not a valid ONNX file (truncated or corrupt): {err}") from err


def read_tensor(msg):
    """A TensorProto message -> ndarray with its dims (a view of the message's bytes if raw_data)."""
    name = msg.string(8)
    dims = msg.ints(1)
    code = msg.int(2)
    if msg.int(14) == _EXTERNAL:
        raise ModelError(f"tensor '{name}' keeps its data in an external file (not supported)")
    if code not in DTYPES:
        raise ModelError(f"tensor '{name}' has unsupported data type {code}")
    dtype = np.dtype(DTYPES[code])
    raw = msg.view(9)
    if raw is not None:
        if len(raw) % dtype.itemsize:
            raise ModelError(f"tensor '{name}': raw_data size {len(raw)} is not a multiple of {dtype}")
        # A view of the file's bytes, not a copy: most weights are only read once, to prepare
        # the plan's own arrays (and plan.Planner.emit copies whatever a step would keep as is).
        array = np.frombuffer(raw, dtype)
    elif code == _FLOAT:
        array = msg.fixed(4, "<f4")
    elif code == _DOUBLE:
        array = msg.fixed(10, "<f8")
    elif code == _INT64:
        array = np.array(msg.ints(7), np.int64)
    elif code in (_UINT32, _UINT64):
        array = np.array(msg.ints(11), np.int64).astype(dtype)  # wraps back to unsigned
    elif code == _FLOAT16:
        array = np.array(msg.ints(5), np.int64).astype(np.uint16).view(np.float16)  # bit patterns
    else:  # int8/16/32, uint8/16, bool live in int32_data
        array = np.array(msg.ints(5), np.int64).astype(dtype)
    if array.size != prod(dims):
        raise ModelError(f"tensor '{name}' has {array.size} values for dims {dims}")
    return array.reshape(dims)


def _model(msg):
    graph_msg = msg.message(7)
    if graph_msg is None:
        raise ModelError("not an ONNX model: no graph")
    opsets = {m.string(1): m.int(2) for m in msg.messages(8)}
    model = OnnxModel(
        graph=_graph(graph_msg),
        ir_version=msg.int(1),
        producer=f"{msg.string(2)} {msg.string(3)}".strip(),
        opsets=opsets,
        metadata={m.string(1): m.string(2) for m in msg.messages(14)},
    )
    if model.opset is None:
        raise ModelError("not an ONNX model: no ai.onnx opset_import")
    return model


def _graph(msg):
    initializers = {}
    for tensor_msg in msg.messages(5):
        initializers[tensor_msg.string(8)] = read_tensor(tensor_msg)
    if msg.has(15):
        raise ModelError("sparse initializers are not supported")
    graph = Graph(
        nodes=[_node(m) for m in msg.messages(1)],
        initializers=initializers,
        # Models from IR version < 4 also list every initializer as a graph input.
        inputs=[v for v in map(_value_info, msg.messages(11)) if v.name not in initializers],
        outputs=[_value_info(m) for m in msg.messages(12)],
        name=msg.string(2),
    )
    if not graph.outputs:
        raise ModelError("the graph has no outputs")
    return graph


def _node(msg):
    return Node(
        op_type=msg.string(4),
        name=msg.string(3),
        inputs=msg.strings(1),
        outputs=msg.strings(2),
        attrs=dict(_attribute(m) for m in msg.messages(5)),
        domain=msg.string(7),
    )


def _attribute(msg):
    name = msg.string(1)
    kind = msg.int(20)
    if kind == 0:  # files older than IR version 2 leave the type out: find the field that is set
        kind = next((k for k, (number, _) in _ATTRIBUTE_READERS.items() if msg.has(number)), 0)
    if kind not in _ATTRIBUTE_READERS:
        return name, None
    return name, _ATTRIBUTE_READERS[kind][1](msg)


def _value_info(msg):
    type_msg = msg.message(2)
    tensor = type_msg.message(1) if type_msg is not None else None  # TypeProto.tensor_type
    if tensor is None:
        return ValueInfo(msg.string(1), 0, None)
    shape_msg = tensor.message(2)
    shape = None
    if shape_msg is not None:
        shape = tuple(d.int(1) if d.has(1) else (d.string(2) or None) for d in shape_msg.messages(1))
    return ValueInfo(msg.string(1), tensor.int(1), shape)
