"""QDQ graphs -> QOperator graphs, before fusion and planning (a rewrite, like fuse.py).

onnxruntime's quantizer (QDQ format) writes a quantized op as the float op between
DequantizeLinear nodes on its inputs and a QuantizeLinear on its output:

    x_q -> DQ -> Conv -> [Relu/Clip ->] Q -> y_q        w_q (constant) -> DQ -^   bias_q (int32) -> DQ -^

Each such group becomes the one quantized op it means (QLinearConv, QLinearMatMul, QGemm,
QLinearAdd, QLinearMul, QLinearGlobalAveragePool, QLinearAveragePool, QLinearSigmoid,
QLinearLeakyRelu, QLinearConcat: ops/quant.py), reading the int8 tensors, scales and zero
points the DQ/Q nodes read -- so the constant weights stay int8 in the plan and the op runs
as integer arithmetic, as onnxruntime's own QDQ fusions do. A fused Relu/Clip is typed plan
data on the node (`node.fused`, an ops.conv.Epilogue with its bounds), never an attribute.

A group is rewritten only when it matches exactly (the float op's output read by one Q and
nothing else, per-tensor activation parameters, weights per tensor or per output channel,
biases int32 of scale x_scale * w_scale); anything else keeps its DQ/Q nodes and runs in
float32 between them, which is what QDQ means, only slower. DQ nodes left without readers go.
A DQ -> Flatten/Reshape/... -> Q with the same parameters on both sides moves the int8 tensor
as it is (onnxruntime drops such pairs too).
"""

from collections import defaultdict

import numpy as np

from .onnx_reader import Graph, Node
from .ops.conv import Epilogue
from .ops.elementwise import activation_bounds
from .ops.tensor import constant_value

_MS = "com.microsoft"
_QDQ_DOMAINS = ("", "ai.onnx", _MS)  # onnxruntime writes com.microsoft's Q/DQ for 4- and 16-bit types
_EIGHT_BIT = (np.int8, np.uint8)
_DATA_MOVES = {"Flatten", "Reshape", "Unsqueeze", "Identity", "Dropout"}  # no arithmetic: fine on integers


def to_qoperators(graph, opset):
    """A new Graph with the QDQ groups rewritten; the given one is left as it was."""
    constants = dict(graph.initializers)
    constants.update((n.outputs[0], constant_value(n)) for n in graph.nodes if n.op_type == "Constant")
    producer = {name: n for n in graph.nodes for name in n.outputs}
    readers = defaultdict(list)
    for n in graph.nodes:
        for name in n.inputs:
            readers[name].append(n)
    outputs = {v.name for v in graph.outputs}
    dropped = set()  # id() of the nodes a rewrite absorbed

    def dq(name, constant=None):
        """The DQ node producing `name` (its input constant or not, if asked), else None."""
        node = producer.get(name)
        if node is None or node.op_type != "DequantizeLinear" or node.domain not in _QDQ_DOMAINS:
            return None
        if not all(i in constants for i in node.inputs[1:] if i) or not eight_bit(node):
            return None
        if constant is not None and (node.inputs[0] in constants) != constant:
            return None
        return node

    def eight_bit_output(q):
        """A QuantizeLinear to int8/uint8 (not int4: read as int8 too), not blocked."""
        zero = q.inputs[2] if len(q.inputs) > 2 else ""
        if q.attrs.get("block_size", 0) or (zero and graph.initializers.four_bit(zero)):
            return False
        if zero:
            return constants[zero].dtype in _EIGHT_BIT
        return q.attrs.get("output_dtype", 0) in (0, 2, 3)  # unset, UINT8, INT8

    def eight_bit(node):
        """A Q or DQ node of int8/uint8 values (int4 weights too: read as int8), not blocked:
        what the integer ops take. Any other keeps its float32 op between DQ and Q."""
        if node.op_type == "QuantizeLinear":
            return eight_bit_output(node)
        zero, source = node.inputs[2] if len(node.inputs) > 2 else "", node.inputs[0]
        if node.attrs.get("block_size", 0):
            return False
        if source in constants:  # weights, or biases (int32)
            return constants[source].dtype in (*_EIGHT_BIT, np.int32)
        if zero:
            return constants[zero].dtype in _EIGHT_BIT
        made_by = producer.get(source)  # no zero point: the type is the input's
        return made_by is not None and made_by.op_type == "QuantizeLinear" and eight_bit_output(made_by)

    def per_tensor(node):
        return constants[node.inputs[1]].size == 1

    def only_reader(name, op_types):
        """The one node reading `name` if it is of op_types (and name is no graph output)."""
        if name in outputs or len(readers[name]) != 1 or readers[name][0].op_type not in op_types:
            return None
        return readers[name][0]

    def quantized_output(node, activations=False):
        """(Q node, the Relu/Clip between, or None) after node's output, or (None, None)."""
        follower = only_reader(
            node.outputs[0], {"QuantizeLinear", "Relu", "Clip"} if activations else {"QuantizeLinear"}
        )
        activation = None
        if follower is not None and follower.op_type != "QuantizeLinear":
            activation, follower = follower, only_reader(follower.outputs[0], {"QuantizeLinear"})
            if activation.op_type == "Clip" and not all(i in constants for i in activation.inputs[1:] if i):
                return None, None
        if follower is None or follower.domain not in _QDQ_DOMAINS:
            return None, None
        if not all(i in constants for i in follower.inputs[1:] if i) or not eight_bit(follower):
            return None, None
        if not per_tensor(follower):
            return None, None
        return follower, activation

    def qparams(node):
        """The scale and zero point inputs of a DQ or Q node (zero point "" if omitted)."""
        return [node.inputs[1], node.inputs[2] if len(node.inputs) > 2 else ""]

    def weight_axis_ok(node, axis, rank):
        return per_tensor(node) or node.attrs.get("axis", 1) % rank == axis

    def bias_ok(node, x_dq, w_dq):
        """A DQ of an int32 constant with scale x_scale * w_scale and zero point 0."""
        if node is None or constants[node.inputs[0]].dtype != np.int32:
            return False
        zero = constants.get(node.inputs[2]) if len(node.inputs) > 2 and node.inputs[2] else None
        expected = np.float32(constants[x_dq.inputs[1]]) * np.asarray(constants[w_dq.inputs[1]], np.float32)
        return (zero is None or not np.any(zero)) and np.allclose(constants[node.inputs[1]], expected, rtol=1e-5)

    def bounds(activation):
        """(lo, hi) of a Relu or Clip whose bounds are constants."""
        return activation_bounds(
            activation, opset, lambda i: constants.get(activation.inputs[i]) if i < len(activation.inputs) else None
        )

    def rewrite(node):
        """The QOperator node for node's group, marking what it absorbs; None if no match."""
        op = node.op_type
        ins = [dq(name) for name in node.inputs]
        if op in ("Conv", "MatMul", "Gemm"):
            if len(node.inputs) < 2 or ins[0] is None or not per_tensor(ins[0]) or dq(node.inputs[1], True) is None:
                return None
            x, w = ins[0], ins[1]
            rank = constants[w.inputs[0]].ndim
            weight_axis = {"Conv": 0, "MatMul": rank - 1, "Gemm": 0 if node.attrs.get("transB", 0) else 1}[op]
            if not weight_axis_ok(w, weight_axis, rank):
                return None
            bias = node.inputs[2] if len(node.inputs) > 2 and node.inputs[2] else None
            if bias is not None and (not bias_ok(dq(bias, True), x, w) or node.attrs.get("beta", 1.0) != 1.0):
                return None
            q, activation = quantized_output(node, activations=True)
            xw = [x.inputs[0], *qparams(x), w.inputs[0], *qparams(w)]
            b = [dq(bias).inputs[0]] if bias else []
            fused = None if activation is None else Epilogue(bounds=bounds(activation))
            if op == "Gemm":
                if q is None and activation is not None:
                    return None
                tail = [] if q is None else [*qparams(q)]
                absorbed, outs = [q, activation], (q or node).outputs
                new = Node("QGemm", node.name, xw + (b or [""]) + tail, outs, dict(node.attrs), _MS, fused)
                new.attrs.pop("beta", None)
            elif q is None or (op == "MatMul" and b):
                return None
            elif op == "Conv":
                absorbed = [q, activation]
                new = Node("QLinearConv", node.name, xw + [*qparams(q)] + b, q.outputs, dict(node.attrs), "", fused)
            else:
                absorbed = [q, activation]
                new = Node("QLinearMatMul", node.name, xw + [*qparams(q)], q.outputs, {}, "", fused)
            dropped.update(id(n) for n in absorbed if n is not None)
            return new
        if op in _DATA_MOVES:  # the int8 tensor moved as it is, when Q undoes DQ exactly
            q, _ = quantized_output(node)
            if (
                ins[0] is None
                or q is None
                or not all(
                    np.array_equal(constants.get(a, 0), constants.get(b, 0))
                    for a, b in zip(qparams(ins[0]), qparams(q))
                )
            ):
                return None
            dropped.add(id(q))
            return Node(op, node.name, [ins[0].inputs[0], *node.inputs[1:]], q.outputs, dict(node.attrs))
        if op in ("Add", "Mul", "GlobalAveragePool", "AveragePool", "Sigmoid", "LeakyRelu", "Relu", "Clip", "Concat"):
            if op == "Clip":  # its bounds must be constants, not DQs
                if not all(i in constants for i in node.inputs[1:] if i):
                    return None
                ins = ins[:1]
            if not node.inputs or any(d is None or not per_tensor(d) for d in ins):
                return None
            q, _ = quantized_output(node)
            if q is None:
                return None
            dropped.add(id(q))
            if op == "Concat":
                inputs = [*qparams(q)] + [name for d in ins for name in (d.inputs[0], *qparams(d))]
                return Node("QLinearConcat", node.name, inputs, q.outputs, dict(node.attrs), _MS)
            inputs = [name for d in ins for name in (d.inputs[0], *qparams(d))] + [*qparams(q)]
            attrs, fused = dict(node.attrs), None
            if op == "Relu":
                op, attrs = "LeakyRelu", {"alpha": 0.0}
            if op == "Clip":  # the identity (LeakyRelu of alpha 1) requantized, clipped on the way
                op, attrs, fused = "LeakyRelu", {"alpha": 1.0}, Epilogue(bounds=bounds(node))
                inputs = [name for name in (ins[0].inputs[0], *qparams(ins[0]))] + [*qparams(q)]
            return Node("QLinear" + op, node.name, inputs, q.outputs, attrs, _MS, fused)
        return None

    nodes = []
    for node in graph.nodes:
        if id(node) in dropped:
            continue
        new = rewrite(node) if node.domain in ("", "ai.onnx") else None
        nodes.append(new or node)
    # DQ nodes whose every reader was rewritten: nothing reads them now.
    read = {name for n in nodes for name in n.inputs} | outputs
    nodes = [n for n in nodes if n.op_type != "DequantizeLinear" or any(o in read for o in n.outputs)]
    return Graph(nodes, graph.initializers, graph.inputs, graph.outputs, graph.name)
