"""load_model: bytes -> parsed graph -> fused graph -> plan, once; Model.run runs the plan."""
from collections import Counter

import numpy as np

from .errors import ModelError
from .fuse import fuse
from .onnx_reader import DTYPES, read_model
from .ops import LOWERINGS
from .plan import Plan


def load_model(data, kernels="auto"):
    """Parse a standard .onnx file's bytes and plan its execution. Raises ModelError.
    kernels: "auto" (XNNPACK's where the module imports, inside the component), "xnnpack" or
    "numpy" (see backends/)."""
    model = read_model(data)
    _check_supported(model.graph, op_types=False)  # a node of another domain is never fused away
    try:
        graph = fuse(model.graph, model.opset)
        _check_supported(graph)  # after fusion: an op merged into a Conv (a gate, an activation) needs no lowering
        plan = Plan(graph, model.opset, kernels)
    except ModelError:
        raise
    except (ValueError, TypeError, IndexError, KeyError, AttributeError) as err:
        # Malformed graphs (wrong tensor ranks, missing inputs...) trip numpy or Python first.
        raise ModelError(f"cannot plan the model: {type(err).__name__}: {err}") from err
    return Model(plan, _info(model))


class Model:
    def __init__(self, plan, info):
        self.plan = plan  # public: its steps and constants are what the plan is (tests, profilers)
        self.info = info
        self.input_shape = plan.input_shape     # e.g. (N, C, H, W); N is None when symbolic
        self.output_shape = plan.output_shape   # e.g. (N, 1000)

    def run(self, x, on_step=None):
        """x: float32 in the graph input's shape, e.g. (N, C, H, W) -> the graph output, float32.
        on_step: see Plan.run (a per-step hook for profilers)."""
        x = np.asarray(x, dtype=np.float32)
        expected = self.input_shape
        if x.ndim != len(expected) or any(e is not None and e != d for e, d in zip(expected, x.shape)):
            raise ModelError(f"input shape {x.shape} does not match the model's {expected}")
        return np.ascontiguousarray(self.plan.run(x, on_step), dtype=np.float32)


def _check_supported(graph, op_types=True):
    for node in graph.nodes:
        if node.domain not in ("", "ai.onnx") or (op_types and node.op_type not in LOWERINGS):
            domain = f" (domain '{node.domain}')" if node.domain else ""
            raise ModelError(f"unsupported operator '{node.op_type}'{domain} in node '{node.name}'")


def _info(model):
    graph = model.graph

    def describe(value):
        dtype = DTYPES.get(value.elem_type)
        return {"name": value.name,
                "dtype": np.dtype(dtype).name if dtype else None,
                "shape": None if value.shape is None else list(value.shape)}

    return {
        "producer": model.producer,
        "ir_version": model.ir_version,
        "opset": model.opset,
        "inputs": [describe(v) for v in graph.inputs],
        "outputs": [describe(v) for v in graph.outputs],
        "op_counts": dict(Counter(node.op_type for node in graph.nodes)),
        # What makes the output: a classifier head ending in Softmax already gives probabilities.
        "output_op": next((n.op_type for n in graph.nodes if graph.outputs[0].name in n.outputs), None),
        "parameters": sum(int(a.size) for a in graph.initializers.values() if a.dtype.kind == "f"),
        "metadata": dict(model.metadata),
    }
