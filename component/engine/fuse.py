"""Graph rewrites before planning, each merging a producer -> consumer pair into one Conv:

- Conv -> BatchNormalization: BN is an affine map per output channel, so it folds into the
  conv's weights and bias (computed in float64, rounded once to float32);
- Pad -> Conv: zero padding of H/W only adds to the conv's own pads, saving a padded copy;
- Conv -> Relu/Clip: the clip runs in place on the conv's fresh output (conv.ACTIVATION).

A pair is merged only when the producer's output has no other reader and is not a graph
output, and when everything the merge needs is constant; otherwise both nodes stay.
"""
from collections import Counter
from dataclasses import replace

import numpy as np

from .errors import ModelError
from .onnx_reader import Graph
from .ops.conv import ACTIVATION
from .ops.elementwise import activation_bounds
from .ops.tensor import constant_value, pad_spec


def fuse(graph, opset):
    """A new Graph with the merges done; the given one is left as it was."""
    initializers = dict(graph.initializers)
    constants = dict(initializers)
    constants.update((n.outputs[0], constant_value(n)) for n in graph.nodes if n.op_type == "Constant")

    def const_input(node):
        def const(i):  # like Planner.const: None if omitted, ModelError if not a constant
            if i >= len(node.inputs) or not node.inputs[i]:
                return None
            if node.inputs[i] not in constants:
                raise ModelError(f"input {i} of '{node.name}' is not constant")
            return constants[node.inputs[i]]
        return const

    def fold_batchnorm(conv, bn):
        conv_const, bn_const = const_input(conv), const_input(bn)
        w = conv_const(1).astype(np.float64)  # (Cout, C/G, kh, kw)
        bias = conv_const(2)
        bias = np.zeros(w.shape[0]) if bias is None else bias.astype(np.float64)
        gamma, beta, mean, var = (bn_const(i).astype(np.float64) for i in range(1, 5))
        scale = gamma / np.sqrt(var + bn.attrs.get("epsilon", 1e-5))  # (Cout,)
        name = bn.outputs[0]  # unique, and tells where the folded weights came from
        initializers[name + "/folded_weight"] = constants[name + "/folded_weight"] = \
            (w * scale.reshape(-1, 1, 1, 1)).astype(np.float32)
        initializers[name + "/folded_bias"] = constants[name + "/folded_bias"] = \
            ((bias - mean) * scale + beta).astype(np.float32)
        return replace(conv, inputs=[conv.inputs[0], name + "/folded_weight", name + "/folded_bias"],
                       outputs=bn.outputs)

    def fold_pad(pad, conv):
        pads, value = pad_spec(pad, opset, 4, const_input(pad))  # ((begin, end) per NCHW axis)
        auto_pad = conv.attrs.get("auto_pad", "NOTSET")
        if value != 0 or pads[0] != (0, 0) or pads[1] != (0, 0) or auto_pad not in ("NOTSET", "VALID"):
            return None
        top, left, bottom, right = conv.attrs.get("pads", (0, 0, 0, 0)) if auto_pad == "NOTSET" else (0, 0, 0, 0)
        (pad_top, pad_bottom), (pad_left, pad_right) = pads[2], pads[3]
        attrs = dict(conv.attrs, auto_pad="NOTSET",
                     pads=[top + pad_top, left + pad_left, bottom + pad_bottom, right + pad_right])
        return replace(conv, inputs=[pad.inputs[0], *conv.inputs[1:]], attrs=attrs)

    def fuse_activation(conv, activation):
        if ACTIVATION in conv.attrs:
            return None
        bounds = activation_bounds(activation, opset, const_input(activation))
        return replace(conv, outputs=activation.outputs, attrs={**conv.attrs, ACTIVATION: bounds})

    outputs = {v.name for v in graph.outputs}
    nodes = _merge_pairs(graph.nodes, outputs, "Conv", {"BatchNormalization"}, fold_batchnorm)
    nodes = _merge_pairs(nodes, outputs, "Pad", {"Conv"}, fold_pad)
    nodes = _merge_pairs(nodes, outputs, "Conv", {"Relu", "Clip"}, fuse_activation)
    return Graph(nodes, initializers, graph.inputs, graph.outputs, graph.name)


def _merge_pairs(nodes, graph_outputs, first, seconds, merge):
    """Replace each pair (a: `first` op whose only output feeds only b: one of `seconds`, as its
    first input) by merge(a, b), unless merge declines (returns None or finds a non-constant)."""
    nodes = list(nodes)
    declined = set()
    while True:
        producers = {n.outputs[0]: n for n in nodes if n.outputs}
        readers = Counter(name for n in nodes for name in n.inputs)
        for b in nodes:
            a = producers.get(b.inputs[0]) if b.op_type in seconds and b.inputs else None
            if (a is None or a.op_type != first or len(a.outputs) != 1 or len(b.outputs) != 1
                    or readers[b.inputs[0]] != 1 or b.inputs[0] in graph_outputs or id(b) in declined):
                continue
            try:
                merged = merge(a, b)
            except ModelError:  # something needed is computed at run time: leave the pair
                merged = None
            if merged is None:
                declined.add(id(b))
                continue
            nodes = [merged if n is b else n for n in nodes if n is not a]
            break
        else:
            return nodes
