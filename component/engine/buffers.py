"""Output buffers that the XNNPACK kernels write into, reused from one forward pass to the
next and shared between steps, so that a pass allocates none of them after the first.

A step that writes into a buffer has an `Output` among its params (its shape per batch item);
`share` gives the plan's Outputs their storage once the steps are known. The rule:

- two Outputs share storage only when the first one's value is dead before the second one's
  step runs. A value stays alive until the last read of it or of anything a numpy step made
  from it (a numpy kernel may return a view of its input: reshape, flatten, transposes), unless
  that kernel always makes a new array (`fresh`: numpy's ufuncs, and kernels marked so) -- else
  a transformer's residual Adds would keep every buffer before them alive to the end;
- an Output whose value reaches the plan's result gets no storage: it allocates each pass,
  since the caller keeps the result and the next pass must not overwrite it.

So whatever a step reads is intact while it runs, and what Plan.run returns is never reused;
an on_step hook that keeps the arrays it is shown past its call sees them overwritten.
Memory: the storages hold about the largest set of values alive at once (the same peak as
fresh arrays freed after their last reader), allocated at the first pass (never at plan time:
an embedded model's snapshot stays free of them), and grown if a larger batch comes.
"""

from math import prod

import numpy as np


def fresh(kernel):
    """Whether a numpy step's kernel always returns a new array, never a view of an input."""
    return isinstance(kernel, np.ufunc) or getattr(kernel, "fresh", False)


def makes_new_arrays(kernel):
    """Marks a kernel as `fresh` (see share)."""
    kernel.fresh = True
    return kernel


class Storage:
    """One float32 buffer that several Outputs take turns in."""

    def __init__(self):
        self.floats = 0  # per batch item: the largest Output that uses it
        self._array = None
        self._views = {}  # shape -> view of _array: made once, not at every step

    def view(self, shape):
        view = self._views.get(shape)
        if view is None:
            size = prod(shape)
            if self._array is None or self._array.size < size:
                self._array, self._views = np.empty(self.floats * shape[0], np.float32), {}
            view = self._views[shape] = self._array[:size].reshape(shape)
        return view


class Output:
    """Where one step's result goes: `array(batch)` is an uninitialised (batch, *shape) float32."""

    def __init__(self, shape):
        self.shape = tuple(shape)
        self.storage = None  # set by share(); None: a fresh array each pass

    def array(self, batch):
        shape = (batch, *self.shape)
        return np.empty(shape, np.float32) if self.storage is None else self.storage.view(shape)


def share(steps, result):
    """Gives every Output in the steps' params a Storage (or none, if it reaches `result`)."""
    roots = {}  # value slot -> the Outputs whose memory it may be (or view)
    last_use = {}  # Output -> index of the last step that reads it, directly or through a view
    outputs = []  # (index, Output) in step order
    for index, step in enumerate(steps):
        for name in step.inputs:
            for output in roots.get(name, ()):
                last_use[output] = index
        output = next((v for v in step.params.values() if isinstance(v, Output)), None)
        if output is not None:
            roots[step.output] = (output,)
            outputs.append((index, output))
            last_use[output] = index
        elif not fresh(step.kernel):
            roots[step.output] = tuple({o for name in step.inputs for o in roots.get(name, ())})
    kept = set(roots.get(result, ()))
    busy = []  # (Output, Storage) whose value may still be read
    free = []
    for index, output in outputs:
        free += [storage for owner, storage in busy if last_use[owner] < index]
        busy = [(owner, storage) for owner, storage in busy if last_use[owner] >= index]
        if output in kept:
            continue
        # The free storage closest in size (so big buffers go to big outputs), else a new one.
        size = prod(output.shape)
        storage = min(free, key=lambda s: abs(s.floats - size), default=None) or Storage()
        if storage in free:
            free.remove(storage)
        storage.floats = max(storage.floats, size)
        output.storage = storage
        busy.append((output, storage))
