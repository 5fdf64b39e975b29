"""Graph rewrites before planning, each merging a producer -> consumer pair into one Conv (or
one BatchNormalization). What a node takes in is recorded in `node.fused`, an
ops.conv.Epilogue (typed data the file cannot write, unlike its attributes):

- Conv -> BatchNormalization: BN is an affine map per output channel; its (scale, shift)
  vectors, computed here in float64, are folded by the Conv lowering into the weights it
  prepares anyway -- so no folded copy of the weights is ever made besides the planned one;
- Pad -> Conv: zero padding of H/W only adds to the conv's own pads, saving a padded copy;
- Conv -> Relu/Clip: the clip bounds, applied by the kernel to its fresh output;
- Conv -> HardSwish, Conv -> Sigmoid, and the gated forms Conv -> Sigmoid -> Mul by the conv's
  own output (SiLU, EfficientNet) or -> HardSigmoid(1/6, 1/2) -> Mul (HardSwish as exporters
  write it below opset 14, MobileNetV3): an activation the kernel applies to its fresh output;
- BatchNormalization (one no Conv took: DenseNet's pre-activations) -> Relu/Clip: the clip
  bounds, applied by the backend's channel_affine in the same pass;
- Conv -> Add (either operand): the other operand becomes the conv's input 3, added by the
  kernel after the clip (MobileNet's residual connections: one pass over memory fewer).
  An activation after such an Add stays a step of its own, and a conv takes at most one of
  clip, activation and residual.

A pair is merged only when the producer's output has no other reader and is not a graph
output, and when everything the merge needs is constant; otherwise both nodes stay.
"""

from collections import ChainMap, Counter
from dataclasses import replace

import numpy as np


from .errors import ModelError
from .onnx_reader import Graph
from .ops.conv import Epilogue
from .ops.elementwise import activation_bounds, batchnorm_affine
from .ops.tensor import constant_value, pad_spec


def fuse(graph, opset):
    """A new Graph with the merges done; the given one is left as it was."""
    # Initializers are read only when a merge needs one (statistics, pads, bounds: small ones),
    # not all at once (see onnx_reader.Initializers).
    constants = ChainMap(
        {n.outputs[0]: constant_value(n) for n in graph.nodes if n.op_type == "Constant"}, graph.initializers
    )

    def const_input(node):
        def const(i):  # like Planner.const: None if omitted, ModelError if not a constant
            if i >= len(node.inputs) or not node.inputs[i]:
                return None
            if node.inputs[i] not in constants:
                raise ModelError(f"input {i} of '{node.name}' is not constant")
            return constants[node.inputs[i]]

        return const

    def fold_batchnorm(conv, bn):
        scale, shift = batchnorm_affine(bn, const_input(bn))  # float64 (Cout,)
        epilogue = conv.fused or Epilogue()
        if epilogue.bounds is not None or epilogue.residual:
            return None
        # A conv already followed by a BN (Conv -> BN -> BN) composes the two affine maps.
        old_scale, old_shift = epilogue.scale_shift or (1.0, 0.0)
        fused = replace(epilogue, scale_shift=(old_scale * scale, old_shift * scale + shift))
        return replace(conv, outputs=bn.outputs, fused=fused)

    def fold_pad(pad, conv):
        pads, value = pad_spec(pad, opset, 4, const_input(pad))  # ((begin, end) per NCHW axis)
        auto_pad = conv.attrs.get("auto_pad", "NOTSET")
        if value != 0 or pads[0] != (0, 0) or pads[1] != (0, 0) or auto_pad not in ("NOTSET", "VALID"):
            return None
        top, left, bottom, right = conv.attrs.get("pads", (0, 0, 0, 0)) if auto_pad == "NOTSET" else (0, 0, 0, 0)
        (pad_top, pad_bottom), (pad_left, pad_right) = pads[2], pads[3]
        attrs = dict(
            conv.attrs, auto_pad="NOTSET", pads=[top + pad_top, left + pad_left, bottom + pad_bottom, right + pad_right]
        )
        return replace(conv, inputs=[pad.inputs[0], *conv.inputs[1:]], attrs=attrs)

    def fuse_activation(conv, activation):
        epilogue = conv.fused or Epilogue()
        if epilogue.bounds is not None or epilogue.residual or epilogue.activation:
            return None
        bounds = activation_bounds(activation, opset, const_input(activation))
        return replace(conv, outputs=activation.outputs, fused=replace(epilogue, bounds=bounds))

    def fuse_bn_activation(bn, activation):
        if bn.fused is not None:
            return None
        bounds = activation_bounds(activation, opset, const_input(activation))
        return replace(bn, outputs=activation.outputs, fused=Epilogue(bounds=bounds))

    def fuse_unary(conv, unary):
        epilogue = conv.fused or Epilogue()
        if epilogue.bounds is not None or epilogue.residual or epilogue.activation:
            return None
        return replace(conv, outputs=unary.outputs, fused=replace(epilogue, activation=UNARY_EPILOGUES[unary.op_type]))

    def fuse_residual(conv, add):
        epilogue = conv.fused or Epilogue()
        if epilogue.residual or epilogue.activation or len(add.inputs) != 2 or add.inputs[0] == add.inputs[1]:
            return None
        other = add.inputs[1] if add.inputs[0] == conv.outputs[0] else add.inputs[0]
        inputs = conv.inputs[:3] + [""] * (3 - len(conv.inputs))  # x, w, bias or "" (omitted)
        return replace(conv, inputs=[*inputs, other], outputs=add.outputs, fused=replace(epilogue, residual=True))

    outputs = {v.name for v in graph.outputs}
    nodes = _merge_pairs(graph.nodes, outputs, "Conv", {"BatchNormalization"}, fold_batchnorm)
    nodes = _merge_pairs(nodes, outputs, "Pad", {"Conv"}, fold_pad)
    nodes = _fuse_gates(nodes, outputs)
    nodes = _fuse_gelu(nodes, outputs, constants)
    nodes = _merge_pairs(nodes, outputs, "Conv", set(UNARY_EPILOGUES), fuse_unary)
    nodes = _merge_pairs(nodes, outputs, "Conv", {"Relu", "Clip"}, fuse_activation)
    nodes = _merge_pairs(nodes, outputs, "Conv", {"Add"}, fuse_residual, operands=(0, 1))
    nodes = _merge_pairs(nodes, outputs, "BatchNormalization", {"Relu", "Clip"}, fuse_bn_activation)
    return Graph(nodes, graph.initializers, graph.inputs, graph.outputs, graph.name)


UNARY_EPILOGUES = {"HardSwish": "hardswish", "Sigmoid": "sigmoid"}  # op_type -> Epilogue.activation


def _gate(node):
    """The activation x * node(x) is, for a Sigmoid or a HardSigmoid node, else None."""
    if node.op_type == "Sigmoid":
        return "silu"
    if (
        node.op_type == "HardSigmoid"
        and abs(node.attrs.get("alpha", 0.2) - 1 / 6) < 1e-6
        and node.attrs.get("beta", 0.5) == 0.5
    ):
        return "hardswish"
    return None


def _fuse_gates(nodes, graph_outputs):
    """Conv -> gate -> Mul(conv, gate) as the conv with the activation _gate names: the conv's
    output must have exactly these two readers and the gate's only the Mul, neither a graph
    output. The merged conv takes the Mul's place (after both its producers)."""
    producers = {n.outputs[0]: n for n in nodes if n.outputs}
    readers = Counter(name for n in nodes for name in n.inputs)
    merged, gone = {}, set()
    for mul in nodes:
        if mul.op_type != "Mul" or len(mul.inputs) != 2 or len(mul.outputs) != 1:
            continue
        for conv_name, gate_name in (mul.inputs, mul.inputs[::-1]):
            conv, gate = producers.get(conv_name), producers.get(gate_name)
            if (
                conv is None
                or gate is None
                or conv.op_type != "Conv"
                or len(conv.outputs) != 1
                or id(conv) in gone
                or gate.inputs[:1] != [conv_name]
                or _gate(gate) is None
                or readers[conv_name] != 2
                or readers[gate_name] != 1
                or {conv_name, gate_name} & graph_outputs
            ):
                continue
            epilogue = conv.fused or Epilogue()
            if epilogue.bounds is not None or epilogue.residual or epilogue.activation:
                continue
            merged[id(mul)] = replace(conv, outputs=mul.outputs, fused=replace(epilogue, activation=_gate(gate)))
            gone.update((id(conv), id(gate)))
            break
    return [merged.get(id(n), n) for n in nodes if id(n) not in gone]


def _scalar(constants, name, value):
    """Whether `name` is a constant holding one number close to `value`."""
    if name not in constants:
        return False
    array = np.asarray(constants[name])
    return array.size == 1 and array.dtype.kind == "f" and abs(float(array.reshape(())) - value) < 1e-4 * abs(value)


def _fuse_gelu(nodes, graph_outputs, constants):
    """GELU as exporters below opset 20 write it, x -> Div(x, sqrt 2) -> Erf -> Add(1) ->
    Mul(x) -> Mul(0.5), as one Gelu node (the backends' unary "gelu": XNNPACK's kernel inside,
    where numpy's Erf alone took 22-51% of ViT, Swin and ConvNeXt passes). Each intermediate
    must have its one reader in the chain and not be a graph output."""
    producers = {n.outputs[0]: n for n in nodes if n.outputs}
    readers = Counter(name for n in nodes for name in n.inputs)

    def single(name, op_type):
        node = producers.get(name)
        ok = node is not None and node.op_type == op_type and readers[name] == 1 and name not in graph_outputs
        return node if ok else None

    def other(node, name):
        return node.inputs[1] if node.inputs[0] == name else node.inputs[0]

    merged, gone = {}, set()
    for last in nodes:  # Mul(Mul(x, Add(Erf(Div(x, sqrt 2)), 1)), 0.5), operands in either order
        if last.op_type != "Mul" or len(last.inputs) != 2 or len(last.outputs) != 1:
            continue
        for inner_name, half in (last.inputs, last.inputs[::-1]):
            inner = single(inner_name, "Mul")
            if inner is None or not _scalar(constants, half, 0.5) or len(inner.inputs) != 2:
                continue
            for x, add_name in (inner.inputs, inner.inputs[::-1]):
                add = single(add_name, "Add")
                if add is None or len(add.inputs) != 2:
                    continue
                erf_name = next((n for n in add.inputs if _scalar(constants, other(add, n), 1.0)), None)
                erf = single(erf_name, "Erf") if erf_name else None
                div = single(erf.inputs[0], "Div") if erf else None
                if div is None or div.inputs[0] != x or not _scalar(constants, div.inputs[1], 2**0.5):
                    continue
                chain = (inner, add, erf, div)
                if any(id(n) in gone for n in chain):
                    continue
                merged[id(last)] = replace(last, op_type="Gelu", inputs=[x], attrs={}, name=last.name)
                gone.update(id(n) for n in chain)
                break
            if id(last) in merged:
                break
    return [merged.get(id(n), n) for n in nodes if id(n) not in gone]


def _merge_pairs(nodes, graph_outputs, first, seconds, merge, operands=(0,)):
    """Replace each pair (a: `first` op whose only output feeds only b: one of `seconds`, as one
    of its `operands` inputs, the first that qualifies) by merge(a, b), unless merge declines
    (returns None or finds a non-constant).

    One pass in node order (ONNX lists producers first). The merged node takes b's place and
    outputs, so it is the producer later nodes see (Conv -> BN -> BN merges twice), and it is
    tried again as b (Pad -> Pad -> Conv). A merge drops only reads of constants (statistics,
    pads, bounds), so the reader counts taken at the start stay right."""
    nodes = list(nodes)
    producers = {n.outputs[0]: i for i, n in enumerate(nodes) if n.outputs}  # name -> index
    readers = Counter(name for n in nodes for name in n.inputs)

    def producer(b):
        """Index of the node that b merges with, or None."""
        for k in operands:
            name = b.inputs[k] if k < len(b.inputs) else ""
            j = producers.get(name)
            a = None if j is None else nodes[j]
            if (
                a is not None
                and a.op_type == first
                and len(a.outputs) == 1
                and readers[name] == 1
                and name not in graph_outputs
            ):
                return j
        return None

    for i, b in enumerate(nodes):
        while b is not None and b.op_type in seconds and len(b.outputs) == 1:
            j = producer(b)
            if j is None:
                break
            try:
                merged = merge(nodes[j], b)
            except ModelError:  # something needed is computed at run time: leave the pair
                merged = None
            if merged is None:
                break
            nodes[i], nodes[j] = merged, None
            b = merged
    return [n for n in nodes if n is not None]
