"""Turn a (fused) graph into a flat list of steps, once; `Plan.run` is then a plain loop.

Layout: ONNX activations are NCHW, but the kernels want NHWC -- channels innermost makes a
1x1 conv one GEMM over (pixels, channels) and a depthwise tap one vectorised multiply-add, for
XNNPACK's kernels and numpy's alike (layout.py). Every planned value therefore records how it
is stored: `nhwc=True` is a logically NCHW 4-D tensor kept as NHWC. Lowerings ask for the
layout they need (`Planner.nhwc`, `Planner.plain`) and the planner adds a conversion step when
the stored layout differs, so transposes appear only at the edges of runs of NHWC-friendly ops
(usually: after the graph input and before the classifier head).

Which kernels: the planner holds one backend (backends/: XNNPACK's inside the component,
numpy's natively or on request); a lowering decides what a node is and `Planner.lower` has the
backend emit it, numpy's where the plan's backend has no kernel for that form. Steps that write
into reused buffers get them from buffers.py once all steps are known.

Integer types: a uint8 tensor that quantized ops make or read is stored as int8, each value
minus 128 (`signed=True`; ops/quant.py shifts its zero point alike, so every difference the
arithmetic takes is the same): the integer kernels then only ever see int8, and uint8 models run
on XNNPACK's int8 kernels too. A lowering that is not integer-aware gets the uint8 tensor back
from `Planner.input` (a conversion step, once per value), as it gets a layout it asked for.

Constant folding falls out of `Planner.emit`: a step whose inputs are all known at plan time
is run there and then, so weight transforms, shape subgraphs (Shape -> Gather -> Concat ->
Reshape) and layout conversions of constants cost nothing at run time.

Memory while planning: what a load touches stays in the component's linear memory (and in the
build-time snapshot when the model is embedded), so the planner holds little besides the plan.
Initializers become constants only when first read (they are views of the file's bytes until
then), each constant is released once its last reader is lowered, and what steps keep is
copied out of the file's bytes so that the plan does not keep them alive.
"""

import heapq
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from math import prod
from time import perf_counter

import numpy as np

from . import backends, buffers
from .errors import ModelError
from .layout import to_nchw
from .ops import LOWERINGS
from .ops.quant_numpy import to_signed, to_unsigned

# No value a wasm32 instance can hold has more elements (4 GiB of float32); a file declaring
# one is refused before anything tries to allocate it.
MAX_ELEMENTS = 2**30


@dataclass(frozen=True)
class Value:
    name: str  # slot in the run-time environment
    shape: tuple  # logical (ONNX) shape; None for a dim unknown until run time
    nhwc: bool = False  # stored as NHWC; logically NCHW
    const: object = None  # ndarray (in stored layout) when known at plan time
    signed: bool = False  # logically uint8, stored as int8 (minus 128); see the module doc


@dataclass
class Step:
    kernel: object  # function: kernel(*inputs, **params) -> ndarray
    inputs: tuple  # slot names
    output: str
    params: dict
    label: str  # '<family>[<implementation>] <geometry>' for heavy kernels, else the kernel's name
    flops: int | None = None  # floating-point operations per batch item, where the lowering counts them
    drop: tuple = ()  # slots last read by this step, freed after it


class Planner:
    """What lowerings see: values by name, their constants, and `emit` to add a step."""

    def __init__(self, opset, initializers, backend=backends.NUMPY):
        self.opset = opset
        self.backend = backend  # how heavy operations are computed (backends/)
        self.initializers = initializers  # graph name -> ndarray, made a Value when first read
        self.values = {}  # graph value name -> Value, while a node still has to read it
        self.steps = []
        self.constants = {}  # slot -> ndarray, for the constants that steps read at run time
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
        """The Value of the node's i-th input, or None if it is omitted (a uint8 stored signed
        is given back as uint8: see `stored_input`)."""
        value = self.stored_input(node, i)
        return self.unsigned(value) if value is not None and value.signed else value

    def stored_input(self, node, i):
        """The node's i-th input as stored, `signed` or not (for integer-aware lowerings)."""
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
            raise ModelError(
                f"{node.op_type} node '{node.name}': {what} '{node.inputs[i]}' must be a "
                "constant (initializer or Constant) for this engine"
            )
        return to_nchw(value.const) if value.nhwc else value.const

    def emit(self, kernel, inputs, shape, /, nhwc=False, label=None, flops=None, **params):
        """Add kernel(*inputs, **params) as a step (or run it now if all inputs are constant).
        label and flops (per batch item) describe the step to profilers (see Step)."""
        if prod(d for d in shape if d is not None) > MAX_ELEMENTS:
            raise ModelError(f"a value of shape {tuple(shape)} is too large for any instance")
        if all(v.const is not None for v in inputs):
            return self.constant(kernel(*(v.const for v in inputs), **params), nhwc)
        # What the step keeps must not borrow the file's bytes (see _own).
        for v in inputs:
            if v.const is not None and v.name not in self.constants:
                self.constants[v.name] = _own(v.const)
        params = {k: _own(a) if isinstance(a, np.ndarray) else a for k, a in params.items()}
        value = Value(self._slot(), tuple(shape), nhwc)
        self.steps.append(
            Step(kernel, tuple(v.name for v in inputs), value.name, params, label or kernel.__name__, flops)
        )
        return value

    def lower(self, what, *args):
        """Has the plan's backend emit `what` (a method of the interface in backends/), or
        numpy's where the plan's backend has no kernel for this form. What only reads constants
        folds now with numpy's kernels (any dtype: shape subgraphs, masks)."""
        values = [a for a in args if isinstance(a, Value)]
        if values and all(v.const is not None for v in values):
            return getattr(backends.NUMPY, what)(self, *args)
        value = getattr(self.backend, what)(self, *args)
        return getattr(backends.NUMPY, what)(self, *args) if value is None else value

    def four_bit(self, name):
        """Whether graph value `name` is an initializer the file stores as int4/uint4."""
        return bool(name) and name in self.initializers and self.initializers.four_bit(name)

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
            self._converted[key] = replace(self.lower("to_nhwc", value, shape), signed=value.signed)
        return self._converted[key]

    def plain(self, value):
        """The value stored in its logical layout."""
        if not value.nhwc:
            return value
        key = (value.name, "plain")
        if key not in self._converted:
            self._converted[key] = replace(self.emit(to_nchw, [value], value.shape), signed=value.signed)
        return self._converted[key]

    def carried(self, source, made):
        """`made`, the values of `source` rearranged (Reshape, Flatten), stored as source is:
        a uint8 tensor stays signed on its way between two quantized ops."""
        return replace(made, signed=source.signed)

    def signed(self, value):
        """A uint8 value stored signed (int8, minus 128)."""
        if value.signed:
            return value
        key = (value.name, "signed")
        if key not in self._converted:
            made = self.emit(to_signed, [value], value.shape, nhwc=value.nhwc)
            self._converted[key] = replace(made, signed=True)
        return self._converted[key]

    def unsigned(self, value):
        """A value stored signed, back as the uint8 it is."""
        key = (value.name, "unsigned")
        if key not in self._converted:
            self._converted[key] = self.emit(to_unsigned, [value], value.shape, nhwc=value.nhwc)
        return self._converted[key]


class Plan:
    """Steps from the graph's one input to its first output, ready to run."""

    def __init__(self, graph, opset, kernels="auto"):
        """kernels: which backend computes the heavy operations, see backends/."""
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

        planner = Planner(opset, graph.initializers, backends.resolve(kernels))
        planner.values[source.name] = Value(source.name, self.input_shape)
        output = graph.outputs[0].name
        nodes = _topological(graph)
        unread = Counter(name for node in nodes for name in node.inputs)  # readers still to lower
        unread[output] += 1  # read at the end
        for node in nodes:
            try:
                made = LOWERINGS[node.op_type](planner, node)  # a Value, or a tuple for multi-output ops
            except ModelError as err:  # named after the node, unless the lowering did
                if f"'{node.name}'" in str(err):
                    raise
                raise ModelError(f"{node.op_type} node '{node.name}': {err}") from err
            except (ValueError, TypeError, IndexError, KeyError, AttributeError, ArithmeticError) as err:
                # Malformed graphs (wrong ranks, zero strides...) trip numpy or Python first.
                raise ModelError(
                    f"{node.op_type} node '{node.name}': cannot plan it: {type(err).__name__}: {err}"
                ) from err
            for name, value in zip(node.outputs, made if isinstance(made, tuple) else (made,)):
                planner.values[name] = value
            for name in node.inputs:
                unread[name] -= 1
                if not unread[name]:
                    planner.values.pop(name, None)  # a constant goes, unless a step keeps it

        result = planner.value(output)
        if result is None:
            raise ModelError(f"graph output '{output}' is not produced by any node")
        result = planner.plain(planner.unsigned(result) if result.signed else result)
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
    graphs, but not all tools comply). O(n log n) whatever order a file lists its nodes in (a
    pass per misplaced node would let a hostile file make loading hang)."""
    available = set(graph.initializers) | {v.name for v in graph.inputs} | {""}
    waiting = {}  # node index -> how many of its inputs are not available yet
    readers = defaultdict(list)  # value name -> indices of the nodes waiting for it
    for i, node in enumerate(graph.nodes):
        missing = set(node.inputs) - available
        waiting[i] = len(missing)
        for name in missing:
            readers[name].append(i)
    ready = [i for i, count in waiting.items() if count == 0]  # a heap: the first in file order first
    ordered = []
    while ready:
        node = graph.nodes[heapq.heappop(ready)]
        ordered.append(node)
        for name in node.outputs:
            for i in readers.pop(name, ()):
                waiting[i] -= 1
                if not waiting[i]:
                    heapq.heappush(ready, i)
    if len(ordered) < len(graph.nodes):
        missing = sorted(set(readers))
        raise ModelError(f"graph has a cycle or reads undefined values: {missing[:5]}")
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
