"""Small helpers for writing convolutional ONNX graphs with `onnx.helper`.

Shared by `efficientnet_lite0.py` (pretrained EfficientNet-Lite0, opset 13) and
`mobilenetv2.py` (seeded MobileNetV2 in the ONNX model zoo's style, opset 10).

A `GraphBuilder` collects nodes and float32 initializers; each layer method takes the
name of its input tensor and returns the name of its output tensor, so a network is
written as a chain of calls. Names of nodes and tensors are unique and readable
("blocks.3.dw", "blocks.3.dw.bn", ...).
"""

from __future__ import annotations

import json
import math
from typing import Iterable, Mapping, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow "SAME" padding along one axis as (before, after).

    The output has ceil(size / stride) positions; the total padding needed for that goes
    half before and the rest (one more when odd) after, as TF does. For stride 2 on an
    even size this is asymmetric, e.g. (0, 1) for a 3x3 kernel.
    """
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def conv_out(size: int, kernel: int, stride: int, pad_before: int, pad_after: int) -> int:
    return (size + pad_before + pad_after - kernel) // stride + 1


class GraphBuilder:
    """Accumulates an ONNX graph. `opset` decides how Clip is written (see `clip`)."""

    def __init__(self, opset: int):
        self.opset = opset
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._used: set[str] = set()

    # --- names and constants ------------------------------------------------------------
    def unique(self, name: str) -> str:
        base, n = name, 1
        while name in self._used:
            n += 1
            name = f"{base}_{n}"
        self._used.add(name)
        return name

    def const(self, name: str, value, dtype=np.float32) -> str:
        """Adds an initializer; returns its (unique) name."""
        name = self.unique(name)
        arr = np.ascontiguousarray(np.asarray(value, dtype=dtype))
        self.initializers.append(numpy_helper.from_array(arr, name))
        return name

    def node(self, op: str, inputs: Sequence[str], name: str, **attrs) -> str:
        """Adds a single-output node named `name`; its output tensor has the same name."""
        name = self.unique(name)
        self.nodes.append(helper.make_node(op, list(inputs), [name], name=name, **attrs))
        return name

    # --- layers ---------------------------------------------------------------------------
    def conv(
        self,
        x: str,
        weight: np.ndarray,
        name: str,
        bias: np.ndarray | None = None,
        stride: int = 1,
        pads: Sequence[int] = (0, 0, 0, 0),
        group: int = 1,
    ) -> str:
        """2-D convolution; `weight` is (out, in/group, kh, kw); `pads` is ONNX's
        (top, left, bottom, right)."""
        weight = np.asarray(weight, dtype=np.float32)
        inputs = [x, self.const(f"{name}.weight", weight)]
        if bias is not None:
            inputs.append(self.const(f"{name}.bias", bias))
        return self.node(
            "Conv",
            inputs,
            name,
            kernel_shape=list(weight.shape[2:]),
            strides=[stride, stride],
            pads=[int(p) for p in pads],
            group=group,
            dilations=[1, 1],
        )

    def batchnorm(self, x: str, name: str, gamma, beta, mean, var, eps: float) -> str:
        """Inference-mode BatchNormalization (kept as its own node, not folded)."""
        inputs = [x] + [
            self.const(f"{name}.{k}", v)
            for k, v in (("weight", gamma), ("bias", beta), ("running_mean", mean), ("running_var", var))
        ]
        return self.node("BatchNormalization", inputs, name, epsilon=float(eps))

    def clip(self, x: str, name: str, lo: float = 0.0, hi: float = 6.0) -> str:
        """Clip (ReLU6 by default). Opsets 6-10 carry min/max as attributes; from opset 11
        on they are optional inputs, written here as scalar initializers."""
        if self.opset < 11:
            return self.node("Clip", [x], name, min=float(lo), max=float(hi))
        return self.node("Clip", [x, self.const(f"{name}.min", lo), self.const(f"{name}.max", hi)], name)

    def add(self, a: str, b: str, name: str) -> str:
        return self.node("Add", [a, b], name)

    def global_avg_pool(self, x: str, name: str) -> str:
        return self.node("GlobalAveragePool", [x], name)

    def flatten(self, x: str, name: str, axis: int = 1) -> str:
        return self.node("Flatten", [x], name, axis=axis)

    def reshape(self, x: str, shape: Sequence[int], name: str) -> str:
        return self.node("Reshape", [x, self.const(f"{name}.shape", shape, np.int64)], name)

    def gemm(self, x: str, weight: np.ndarray, bias: np.ndarray, name: str) -> str:
        """y = x @ weight.T + bias, with `weight` stored (out, in) as torch.nn.Linear does."""
        return self.node(
            "Gemm",
            [x, self.const(f"{name}.weight", weight), self.const(f"{name}.bias", bias)],
            name,
            alpha=1.0,
            beta=1.0,
            transB=1,
        )

    # --- the model ----------------------------------------------------------------------
    def model(
        self,
        input_name: str,
        input_shape: Sequence,
        output: str,
        output_name: str,
        output_shape: Sequence,
        graph_name: str,
        doc: str = "",
        metadata: Mapping[str, object] | None = None,
        producer: str = "image-classifier models/",
    ) -> onnx.ModelProto:
        """Wraps the nodes into a ModelProto. `output` (the last tensor) is renamed to
        `output_name`. Shapes may hold strings for symbolic dimensions."""
        for n in self.nodes:
            n.output[:] = [output_name if o == output else o for o in n.output]
        graph = helper.make_graph(
            self.nodes,
            graph_name,
            [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, list(input_shape))],
            [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, list(output_shape))],
            initializer=self.initializers,
            doc_string=doc,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)], producer_name=producer)
        # IR version 7 covers opsets 10-13 and is read by every onnxruntime in use.
        model.ir_version = 7
        if metadata:
            set_metadata(model, metadata)
        return model


def metadata_value(value) -> str:
    """metadata_props values are strings: strings go in as they are, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def set_metadata(model: onnx.ModelProto, metadata: Mapping[str, object]) -> None:
    helper.set_model_props(model, {k: metadata_value(v) for k, v in metadata.items()})


def sidecar_json(settings: Mapping[str, object]) -> str:
    """A sidecar's text: one key per line, lists kept on their line."""
    lines = [f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in settings.items()]
    return "{\n" + ",\n".join(lines) + "\n}\n"


def he_normal(rng: np.random.Generator, shape: Iterable[int], fan_in: int, gain: float = 2.0) -> np.ndarray:
    """Normal weights with variance gain / fan_in (He init for gain 2)."""
    return (rng.standard_normal(tuple(shape)) * math.sqrt(gain / fan_in)).astype(np.float32)
