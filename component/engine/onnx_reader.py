"""ONNX ModelProto bytes -> a plain Python graph (dataclasses, numpy arrays, str, int).

Field numbers are those of onnx/onnx.proto. Only what an inference engine needs is read;
everything else (doc strings, training info, functions, value_info, subgraphs) is skipped.

Model files are untrusted input: every size the file declares is checked against the bytes
it has before anything is allocated for it, and the graph's structure (each value written
once, every node with an output) is checked here, so that a broken file is a ModelError
naming the problem. Initializers are read when the planner asks for them (Initializers), so
from a file (read_model(open file)) the weights are never all in memory at once.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from math import prod

import numpy as np

from .errors import ModelError
from .protobuf import DecodeError, Message

# TensorProto.DataType -> numpy dtype (little-endian, as ONNX stores raw_data).
DTYPES = {
    1: "<f4",
    2: "u1",
    3: "i1",
    4: "<u2",
    5: "<i2",
    6: "<i4",
    7: "<i8",
    9: "?",
    10: "<f2",
    11: "<f8",
    12: "<u4",
    13: "<u8",
}
# 4-bit types, packed two to a byte (the first value in the low nibble) in raw_data and in
# int32_data alike; read widened to uint8/int8, which hold every value. Quantized weights use
# them (a DequantizeLinear's constant input), and an int4 weight is then exactly an int8 one:
# the integer kernels take it as it is. Not in DTYPES: no op computes in 4 bits (a Cast to
# int4 is refused). UINT4, INT4 -> the dtype read into.
_FOUR_BIT = {21: np.dtype(np.uint8), 22: np.dtype(np.int8)}
# The types ONNX defines that no op here computes on, by name for the error.
_UNSUPPORTED = {
    8: "string",
    14: "complex64",
    15: "complex128",
    16: "bfloat16",
    17: "float8e4m3fn",
    18: "float8e4m3fnuz",
    19: "float8e5m2",
    20: "float8e5m2fnuz",
    23: "float4e2m1",
}
_FLOAT, _INT64, _DOUBLE, _UINT32, _UINT64 = 1, 7, 11, 12, 13
# TensorProto field holding the values of each data type when raw_data is not used.
_TYPED_FIELD = {_FLOAT: 4, _INT64: 7, _DOUBLE: 10, _UINT32: 11, _UINT64: 11}  # else int32_data (5)
# No dim of a tensor a wasm32 instance can hold is larger (4 GiB of bytes at most).
MAX_DIM = 2**31 - 1

# AttributeProto.AttributeType -> (field number, reader). Graph, sparse-tensor and type-proto
# attributes belong to control-flow ops the engine does not run, so they are not read.
_ATTRIBUTE_READERS = {
    1: (2, lambda m: m.float(2)),  # FLOAT
    2: (3, lambda m: m.int(3)),  # INT
    3: (4, lambda m: m.string(4)),  # STRING
    4: (5, lambda m: read_tensor(_required(m, 5))),  # TENSOR
    6: (7, lambda m: [float(v) for v in m.fixed(7, "<f4")]),  # FLOATS
    7: (8, lambda m: m.ints(8)),  # INTS
    8: (9, lambda m: m.strings(9)),  # STRINGS
    9: (10, lambda m: [read_tensor(t) for t in m.messages(10)]),  # TENSORS
}


@dataclass
class Node:
    op_type: str
    name: str
    inputs: list  # value names; "" marks an omitted optional input
    outputs: list
    attrs: dict  # attribute name -> float | int | str | ndarray | list, as the file has them
    domain: str = ""
    fused: object = None  # what fuse.py merged into a Conv (ops.conv.Epilogue); never from the file


@dataclass
class ValueInfo:
    name: str
    elem_type: int  # TensorProto.DataType, 0 if not declared
    shape: tuple  # each dim an int, a str (symbolic dim_param) or None; None if no shape


class Initializers(Mapping):
    """name -> ndarray, read each time it is asked for (a view of the file's bytes in memory,
    a fresh array from a file): the planner reads each once and releases it when done."""

    def __init__(self, tensors):
        self._tensors = tensors  # name -> _Tensor, checked

    def __getitem__(self, name):
        return self._tensors[name].array()

    def __contains__(self, name):  # Mapping's own would read the tensor
        return name in self._tensors

    def __iter__(self):
        return iter(self._tensors)

    def __len__(self):
        return len(self._tensors)

    def four_bit(self, name):
        """Whether `name` is an initializer stored as int4/uint4 (read widened to int8/uint8)."""
        return name in self._tensors and self._tensors[name].four_bit

    def parameters(self):
        """How many weights the initializers hold, floating-point or 8-bit (quantized); none is read."""
        return sum(prod(t.shape) for t in self._tensors.values() if t.dtype.kind == "f" or t.dtype.itemsize == 1)


@dataclass
class Graph:
    nodes: list
    initializers: Mapping  # name -> ndarray: Initializers, or a dict
    inputs: list  # ValueInfo of the real inputs (initializers listed as inputs are dropped)
    outputs: list
    name: str = ""


@dataclass
class OnnxModel:
    graph: Graph
    ir_version: int
    producer: str  # "name version"
    opsets: dict  # domain -> version; "" is ai.onnx
    metadata: dict = field(default_factory=dict)  # metadata_props

    @property
    def opset(self):
        """The version of the default (ai.onnx) operator set."""
        return self.opsets.get("", self.opsets.get("ai.onnx"))


def read_model(source):
    """Parse a .onnx file: its bytes, or the file open in binary mode (then the weights are read
    when the planner asks for them, and the file must stay open until the model is planned).
    Raises ModelError if it is not a usable model."""
    try:
        return _model(Message.from_file(source) if hasattr(source, "readinto") else Message(source))
    except DecodeError as err:
        raise ModelError(f"not a valid ONNX file (truncated or corrupt): {err}") from err


def read_tensor(msg):
    """A TensorProto message -> ndarray with its dims (a view of the message's bytes if raw_data)."""
    tensor = _Tensor.check(msg)
    if tensor.four_bit:  # only initializers keep the mark (Initializers.four_bit) a QuantizeLinear needs
        raise ModelError(f"tensor '{tensor.name}' of an attribute is 4-bit: only initializers may be")
    return tensor.array()


def _required(msg, number):
    found = msg.message(number)
    if found is None:
        raise ModelError(f"attribute '{msg.string(1)}' says it holds a tensor but has none")
    return found


@dataclass(frozen=True)
class _Tensor:
    """A TensorProto whose declared size matches its data, values not read yet if raw_data."""

    name: str
    dtype: np.dtype
    shape: tuple
    msg: object  # the TensorProto, to read raw_data from
    values: object = None  # ndarray: the typed field's values, decoded (small in practice)
    four_bit: bool = False  # int4/uint4: packed two to a byte, widened by array()

    @classmethod
    def check(cls, msg):
        name = msg.string(8)
        if msg.int(14) != 0:  # data_location: EXTERNAL, or a value ONNX does not define
            raise ModelError(
                f"tensor '{name}' keeps its data in an external file (not supported: "
                "save the model with its weights inside, e.g. onnx.save(model, path))"
            )
        code = msg.int(2)
        if code not in DTYPES and code not in _FOUR_BIT:
            kind = _UNSUPPORTED.get(code, "an unknown one")
            raise ModelError(f"tensor '{name}' has data type {code} ({kind}): not supported")
        dtype = _FOUR_BIT[code] if code in _FOUR_BIT else np.dtype(DTYPES[code])
        shape = tuple(msg.ints(1))
        if any(d < 0 or d > MAX_DIM for d in shape):
            raise ModelError(f"tensor '{name}' has impossible dims {list(shape)}")
        count = prod(shape)
        four_bit = code in _FOUR_BIT
        stored = (count + 1) // 2 if four_bit else count  # elements the file holds
        typed = _TYPED_FIELD.get(code, 5)
        raw = msg.size(9)
        if raw is not None:
            if msg.has(typed):
                raise ModelError(f"tensor '{name}' has both raw_data and typed values")
            if raw != stored * dtype.itemsize:
                kind = ("u" if code == 21 else "") + "int4, two to a byte" if four_bit else dtype.name
                raise ModelError(
                    f"tensor '{name}' has {raw} bytes of data for dims {list(shape)} of "
                    f"{kind} ({stored * dtype.itemsize} bytes)"
                )
            return cls(name, dtype, shape, msg, four_bit=four_bit)
        values = _typed_values(msg, code, typed, dtype)
        if values.size != stored:
            raise ModelError(f"tensor '{name}' has {values.size} values for dims {list(shape)}")
        if four_bit:
            values = _unpack_four_bit(values, count, code == 22)
        return cls(name, dtype, shape, msg, values, four_bit)

    def array(self):
        if self.values is not None:
            return self.values.reshape(self.shape)
        if self.four_bit:
            return _unpack_four_bit(self.msg.data(9), prod(self.shape), self.dtype == np.int8).reshape(self.shape)
        # A view of the file's bytes in memory, or a fresh array read from the file: either
        # way no copy is made here (plan.Planner.emit copies whatever a step would keep of a view).
        return self.msg.data(9).view(self.dtype).reshape(self.shape)


def _unpack_four_bit(packed, count, signed):
    """count 4-bit values from bytes holding two each (the first in the low nibble), widened:
    uint4 to uint8, int4 (two's complement) to int8."""
    packed = np.asarray(packed).astype(np.uint8)  # int32_data's bytes, or raw_data's
    nibbles = np.empty(2 * packed.size, np.int16)
    nibbles[0::2], nibbles[1::2] = packed & 0x0F, packed >> 4
    values = nibbles[:count]
    if signed:
        values = (values ^ 8) - 8  # bit 3 weighs -8
    return values.astype(np.int8 if signed else np.uint8)


def _typed_values(msg, code, number, dtype):
    if code == _FLOAT:
        return msg.fixed(number, "<f4")
    if code == _DOUBLE:
        return msg.fixed(number, "<f8")
    values = msg.int_array(number)
    if dtype == np.float16:
        return values.astype(np.uint16).view(np.float16)  # int32_data holds the bit patterns
    return values.astype(dtype)  # uint64 wraps back to unsigned; int8, bool...: from int32_data


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
    tensors = {}
    for tensor_msg in msg.messages(5):
        tensor = _Tensor.check(tensor_msg)
        if tensor.name in tensors:
            raise ModelError(f"two initializers are named '{tensor.name}'")
        tensors[tensor.name] = tensor
    if msg.has(15):
        raise ModelError("sparse initializers are not supported")
    graph = Graph(
        nodes=[_node(m) for m in msg.messages(1)],
        initializers=Initializers(tensors),
        # Models from IR version < 4 also list every initializer as a graph input.
        inputs=[v for v in map(_value_info, msg.messages(11)) if v.name not in tensors],
        outputs=[_value_info(m) for m in msg.messages(12)],
        name=msg.string(2),
    )
    if not graph.outputs:
        raise ModelError("the graph has no outputs")
    _check_single_assignment(graph)
    return graph


def _check_single_assignment(graph):
    """Every node writes something, and every value has one origin (ONNX graphs are SSA)."""
    origin = dict.fromkeys(graph.initializers, "an initializer")
    origin.update((v.name, "a graph input") for v in graph.inputs)
    for node in graph.nodes:
        if not any(node.outputs):
            raise ModelError(f"{node.op_type} node '{node.name}' has no outputs")
        for name in filter(None, node.outputs):
            if name in origin:
                raise ModelError(
                    f"value '{name}' is written by {node.op_type} node '{node.name}' and by {origin[name]}"
                )
            origin[name] = f"{node.op_type} node '{node.name}'"


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
        if any(isinstance(d, int) and d > MAX_DIM for d in shape):
            raise ModelError(f"'{msg.string(1)}' has impossible dims {list(shape)}")
    return ValueInfo(msg.string(1), tensor.int(1), shape)
