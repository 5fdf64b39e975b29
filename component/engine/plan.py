"""Turn a (fused) graph into a flat list of steps, once; `Plan.run` is then a plain loop.

Layout: ONNX activations are NCHW, but the kernels want NHWC -- channels innermost makes a
1x1 conv one GEMM over (pixels, channels) and a depthwise tap one vectorised multiply-add, for
XNNPACK's kernels and numpy's alike. Every planned value
therefore records how it is stored: `nhwc=True` is a logically NCHW 4-D tensor kept as NHWC.
Lowerings ask for the layout they need (`Planner.nhwc`, `Planner.plain`) and the planner adds
a conversion step when the stored layout differs, so transposes appear only at the edges of
runs of NHWC-friendly ops (usually: after the graph input and before the classifier head).

Which kernels (accel.py): XNNPACK's where the xnn_kernels module imports (inside the
component), numpy's elsewhere or on request; the lowerings ask `Planner.xnn`. Steps that write
into reused buffers get them from buffers.py once all steps are known.

Constant folding falls out of `Planner.emit`: a step whose inputs are all known at plan time
is run there and then, so weight transforms, shape subgraphs (Shape -> Gather -> Concat ->
Reshape) and layout conversions of constants cost nothing at run time.

Memory while planning: what a load touches stays in the component's linear memory (and in the
build-time snapshot when the model is embedded), so the planner holds little besides the plan.
Initializers become constants only when first read (they are views of the file's bytes until
then), each constant is released once its last reader is lowered, and what steps keep is
copied out of the file's bytes so that the plan does not keep them alive.
"""
from collections import Counter
from dataclasses import dataclass
from time import perf_counter

import numpy as np

from . import accel, buffers
from .errors import ModelError
from .ops import LOWERINGS, xnn


@dataclass(frozen=True)
class Value:
    name: str                 # slot in the run-time environment
    shape: tuple              # logical (ONNX) shape; None for a dim unknown until run time
    nhwc: bool = False        # stored as NHWC; logically NCHW
    const: object = None      # ndarray (in stored layout) when known at plan time


@dataclass
class Step:
    kernel: object            # function: kernel(*inputs, **params) -> ndarray
    inputs: tuple             # slot names
    output: str
    params: dict
    label: str                # '<family>[<implementation>] <geometry>' for heavy kernels, else the kernel's name
    flops: int = None         # floating-point operations per batch item, where the lowering counts them
    drop: tuple = ()          # slots last read by this step, freed after it


def to_nhwc(x):
    """(N, C, H, W) -> contiguous (N, H, W, C); lower ranks are broadcast operands, made 4-D."""
    x = x.reshape((1,) * (4 - x.ndim) + x.shape)
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


def to_nchw(x):
    """(N, H, W, C) -> (N, C, H, W) view; consumers that need contiguity copy (heads are small)."""
    return x.transpose(0, 3, 1, 2)


class Planner:
    """What lowerings see: values by name, their constants, and `emit` to add a step."""

    def __init__(self, opset, initializers, xnn=None):
        self.opset = opset
        self.xnn = xnn        # the xnn_kernels module when the plan uses XNNPACK's kernels (accel.py)
        self.initializers = initializers  # graph name -> ndarray, made a Value when first read
        self.values = {}      # graph value name -> Value, while a node still has to read it
        self.steps = []
        self.constants = {}   # slot -> ndarray, for the constants that steps read at run time
        self._converted = {}  # (slot, "nhwc"|"plain") -> Value, so each conversion happens once
        self._count = 0

    def value(self, name):
        """The Value of a graph value name, or None if nothing produces it."""
        if name not in self.values and name in self.initializers:
            array = self.initializers[name]
            if array.dtype.kind == "f":  # the engine computes in float32 whatever the file stores
                array = array.astype(np.float32, copy=False)
            self.values[name] = self.constant(array)
        return self.values.get(name)

    def input(self, node, i):
        """The Value of the node's i-th input, or None if it is omitted."""
        if i >= len(node.inputs) or not node.inputs[i]:
            return None
        name = node.inputs[i]
        value = self.value(name)
        if value is None:
            raise ModelError(f"node '{node.name}' ({node.op_type}) reads '{name}', which nothing produces")
        return value

    def const(self, node, i, what="input"):
        """The node's i-th input as a logical ndarray; None if omitted; ModelError if not constant."""
        value = self.input(node, i)
        if value is None:
            return None
        if value.const is None:
            raise ModelError(f"{node.op_type} node '{node.name}': {what} '{node.inputs[i]}' must be a "
                             "constant (initializer or Constant) for this engine")
        return to_nchw(value.const) if value.nhwc else value.const

    def emit(self, kernel, inputs, shape, /, nhwc=False, label=None, flops=None, **params):
        """Add kernel(*inputs, **params) as a step (or run it now if all inputs are constant).
        label and flops (per batch item) describe the step to profilers (see Step)."""
        if all(v.const is not None for v in inputs):
            return self.constant(kernel(*(v.const for v in inputs), **params), nhwc)
        # What the step keeps must not borrow the file's bytes (see _own).
        for v in inputs:
            if v.const is not None and v.name not in self.constants:
                self.constants[v.name] = _own(v.const)
        params = {k: _own(a) if isinstance(a, np.ndarray) else a for k, a in params.items()}
        value = Value(self._slot(), tuple(shape), nhwc)
        self.steps.append(Step(kernel, tuple(v.name for v in inputs), value.name, params,
                               label or kernel.__name__, flops))
        return value

    def constant(self, array, nhwc=False):
        shape = (array.shape[0], array.shape[3], *array.shape[1:3]) if nhwc else array.shape
        return Value(self._slot(), shape, nhwc, array)

    def _slot(self):
        self._count += 1
        return f"%{self._count}"

    def nhwc(self, value):
        """The value stored NHWC (logical rank < 4 is padded with leading 1s, as broadcasting does)."""
        if value.nhwc:
            return value
        if len(value.shape) > 4:
            raise ModelError(f"cannot lay out a rank-{len(value.shape)} tensor as NHWC")
        key = (value.name, "nhwc")
        if key not in self._converted:
            shape = (1,) * (4 - len(value.shape)) + value.shape
            if self.xnn is not None and len(value.shape) == 4 and value.const is None:
                self._converted[key] = xnn.emit_to_nhwc(self, value, shape)
            else:
                self._converted[key] = self.emit(to_nhwc, [value], shape, nhwc=True)
        return self._converted[key]

    def plain(self, value):
        """The value stored in its logical layout."""
        if not value.nhwc:
            return value
        key = (value.name, "plain")
        if key not in self._converted:
            self._converted[key] = self.emit(to_nchw, [value], value.shape)
        return self._converted[key]


class Plan:
    """Steps from the graph's one input to its first output, ready to run."""

    def __init__(self, graph, opset, kernels="auto"):
        """kernels: which implementation the heavy kernels get, see accel.py."""
        if len(graph.inputs) != 1:
            raise ModelError(f"the graph has {len(graph.inputs)} inputs; this engine takes exactly one")
        source = graph.inputs[0]
        if source.shape is None:
            raise ModelError(f"input '{source.name}' has no declared shape")
        # Kernels take the batch from the data, but plan-time shapes (pads, weight checks) need
        # the rest; a symbolic dim_param becomes None.
        self.input_shape = tuple(d if isinstance(d, int) and d > 0 else None for d in source.shape)
        if None in self.input_shape[1:]:
            raise ModelError(f"input '{source.name}' has shape {source.shape}: only the batch may be symbolic")
        self.input_name = source.name

        planner = Planner(opset, graph.initializers, accel.resolve(kernels))
        planner.values[source.name] = Value(source.name, self.input_shape)
        output = graph.outputs[0].name
        nodes = _topological(graph)
        unread = Counter(name for node in nodes for name in node.inputs)  # readers still to lower
        unread[output] += 1  # read at the end
        for node in nodes:
            made = LOWERINGS[node.op_type](planner, node)  # a Value, or a tuple for multi-output ops
            for name, value in zip(node.outputs, made if isinstance(made, tuple) else (made,)):
                planner.values[name] = value
            for name in node.inputs:
                unread[name] -= 1
                if not unread[name]:
                    planner.values.pop(name, None)  # a constant goes, unless a step keeps it

        result = planner.value(output)
        if result is None:
            raise ModelError(f"graph output '{output}' is not produced by any node")
        result = planner.plain(result)
        if result.const is not None:
            raise ModelError(f"graph output '{output}' does not depend on the input")
        self.output_shape = result.shape
        self.output_name = result.name
        self.steps = planner.steps
        # Constants that steps read at run time are the first entries of the environment.
        self.constants = planner.constants
        _set_drops(self.steps, keep={self.output_name, *self.constants})
        buffers.share(self.steps, self.output_name)

    def run(self, x, on_step=None):
        """x: float32 ndarray of the declared shape, e.g. (N, C, H, W) -> the graph output.

        on_step(step, inputs, output, seconds), if given, is called after each step with what
        it read, what it made and how long the kernel took (profilers; the plain loop is kept
        apart so that a forward pass pays nothing for the hook). The arrays it is shown may be
        reused by later steps and passes (buffers.py): copy what must outlive the call."""
        if on_step is not None:
            return self._run_observed(x, on_step)
        env = dict(self.constants)
        env[self.input_name] = x
        for step in self.steps:
            env[step.output] = step.kernel(*(env[name] for name in step.inputs), **step.params)
            for name in step.drop:
                del env[name]
        return env[self.output_name]

    def _run_observed(self, x, on_step):
        env = dict(self.constants)
        env[self.input_name] = x
        for step in self.steps:
            inputs = [env[name] for name in step.inputs]
            started = perf_counter()
            env[step.output] = step.kernel(*inputs, **step.params)
            on_step(step, inputs, env[step.output], perf_counter() - started)
            for name in step.drop:
                del env[name]
        return env[self.output_name]


def _own(array):
    """The array, or a copy if its memory is borrowed from outside numpy (the file's bytes, for
    the reader's views): a plan keeping a view would keep the whole file alive, and would change
    if the caller reused a mutable buffer."""
    root = array
    while isinstance(root.base, np.ndarray):
        root = root.base
    return array if root.base is None else array.copy()


def _topological(graph):
    """Nodes in an order where each runs after the producers of its inputs: file order, except
    that a node listed before one of its producers waits until after it (ONNX requires sorted
    graphs, but not all tools comply). A sorted graph takes one pass."""
    available = set(graph.initializers) | {v.name for v in graph.inputs} | {""}
    pending, ordered = list(graph.nodes), []
    while pending:
        waiting = []
        for node in pending:
            if all(name in available for name in node.inputs):
                ordered.append(node)
                available.update(node.outputs)
            else:
                waiting.append(node)
        if len(waiting) == len(pending):
            missing = sorted({name for n in waiting for name in n.inputs if name not in available})
            raise ModelError(f"graph has a cycle or reads undefined values: {missing[:5]}")
        pending = waiting
    return ordered


def _set_drops(steps, keep):
    """Free each intermediate right after its last reader: peak memory is what the component
    must grow its linear memory to, and wasm memory never shrinks."""
    last_reader = {}
    for index, step in enumerate(steps):
        for name in step.inputs:
            last_reader[name] = index
    for index, step in enumerate(steps):
        step.drop = tuple(sorted({n for n in step.inputs if last_reader[n] == index and n not in keep}))
