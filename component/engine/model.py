"""load_model: bytes -> parsed graph -> quantized groups as QOperators (qdq.py) -> fused graph
-> plan, once; Model.run runs the plan."""

from collections import Counter

import numpy as np

from .errors import ModelError
from .fuse import fuse
from .onnx_reader import DTYPES, read_model
from .ops import LOWERINGS
from .ops.quant import MICROSOFT_OPS, MICROSOFT_TOO
from .qdq import to_qoperators
from .plan import Plan


def load_model(source, kernels="auto"):
    """Parse a standard .onnx file and plan its execution. Raises ModelError.
    source: the file's bytes, or the file open in binary mode (its weights are then read one at
    a time while planning, so that they are never all in memory besides the plan).
    kernels: "auto" (XNNPACK's where the module imports, inside the component), "xnnpack" or
    "numpy" (see backends/)."""
    model = read_model(source)
    try:
        graph = to_qoperators(model.graph, model.opset)  # before the check: QDQ groups of float ops it lacks run
        _check_supported(graph, op_types=False)  # a node of another domain is never fused away
        graph = fuse(graph, model.opset)
        _check_supported(graph)  # after fusion: an op merged into a Conv (a gate, an activation) needs no lowering
        plan = Plan(graph, model.opset, kernels)
    except ModelError:
        raise
    except (ValueError, TypeError, IndexError, KeyError, AttributeError, ArithmeticError) as err:
        # Malformed graphs (wrong tensor ranks, missing inputs...) trip numpy or Python first.
        raise ModelError(f"cannot plan the model: {type(err).__name__}: {err}") from err
    return Model(plan, _info(model))


class Model:
    def __init__(self, plan, info):
        self.plan = plan  # public: its steps and constants are what the plan is (tests, profilers)
        self.info = info
        self.input_shape = plan.input_shape  # e.g. (N, C, H, W); N is None when symbolic
        # float32, or the int8/uint8 a quantized graph may take (a QLinearConv's input)
        declared = info["inputs"][0]["dtype"]
        self.input_dtype = np.dtype(declared if declared in ("int8", "uint8") else np.float32)
        self.output_shape = plan.output_shape  # e.g. (N, 1000)

    def run(self, x, on_step=None):
        """x: float32 (int8/uint8 if the graph input is), e.g. (N, C, H, W) -> the graph output, float32.
        on_step: see Plan.run (a per-step hook for profilers)."""
        x = np.asarray(x, dtype=self.input_dtype)
        expected = self.input_shape
        if x.ndim != len(expected) or any(e is not None and e != d for e, d in zip(expected, x.shape)):
            raise ModelError(f"input shape {x.shape} does not match the model's {expected}")
        try:
            return np.ascontiguousarray(self.plan.run(x, on_step), dtype=np.float32)
        except (ValueError, TypeError, IndexError, KeyError, ArithmeticError) as err:
            # A graph whose shapes are only known at run time (a symbolic batch) can still be
            # inconsistent: the step that finds out is a numpy call.
            raise ModelError(f"the model fails on an input of shape {x.shape}: {type(err).__name__}: {err}") from err


def _check_supported(graph, op_types=True):
    """ONNX's own ops with a lowering, and the com.microsoft ops of quantized models; with
    op_types=False only the domains (before fusion, which may merge ops away)."""
    for node in graph.nodes:
        if node.domain in ("", "ai.onnx"):
            known = not op_types or (node.op_type in LOWERINGS and node.op_type not in MICROSOFT_OPS)
        else:
            known = node.domain == "com.microsoft" and node.op_type in MICROSOFT_OPS | MICROSOFT_TOO
        if not known:
            domain = f" (domain '{node.domain}')" if node.domain else ""
            raise ModelError(f"unsupported operator '{node.op_type}'{domain} in node '{node.name}'")


def _info(model):
    graph = model.graph

    def describe(value):
        dtype = DTYPES.get(value.elem_type)
        return {
            "name": value.name,
            "dtype": np.dtype(dtype).name if dtype else None,
            "shape": None if value.shape is None else list(value.shape),
        }

    return {
        "producer": model.producer,
        "ir_version": model.ir_version,
        "opset": model.opset,
        "inputs": [describe(v) for v in graph.inputs],
        "outputs": [describe(v) for v in graph.outputs],
        "op_counts": dict(Counter(node.op_type for node in graph.nodes)),
        # What makes the output: a classifier head ending in Softmax already gives probabilities.
        "output_op": next((n.op_type for n in graph.nodes if graph.outputs[0].name in n.outputs), None),
        "parameters": graph.initializers.parameters(),
        "metadata": dict(model.metadata),
    }
