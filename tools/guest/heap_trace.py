"""Inside a footprint-measuring build (tools/footprint.py --modules): which module's import left
what on the heap of the build-time snapshot.

`start()` turns tracemalloc on and makes every later import run inside a frame whose file name
is `<import NAME>`; `report()` then walks the live allocations and charges each one to the
innermost such frame, that is to the module whose loading or top-level code made it (numpy's
array buffers are traced too, in numpy's own tracemalloc domain). Allocations made before
`start()` (CPython's start-up, componentize-py's runtime) and those outside the Python allocator
(C libraries' own malloc) are not traced: the footprint tool counts them as the rest of the heap.
"""

import json
import sys
import tracemalloc

NUMPY_DOMAIN = 389047  # numpy's tracemalloc domain for array data (NPY_TRACE_DOMAIN)
# Enough to reach the innermost import frame. More costs memory, and componentize-py cannot
# copy a too large memory out of the guest ("fuel allocated for hostcalls has been exhausted"
# with 200 frames here).
FRAMES = 24
TAG = "<import "
BEGIN, END = b"<<HEAP-TRACE", b"HEAP-TRACE>>"  # around the report in the snapshot
REPORT = b""


def _tagged_call(name):
    """A function calling fn(arg) from a frame whose file name is `<import NAME>`."""
    scope = {}
    exec(compile("def call(fn, arg):\n    return fn(arg)\n", f"{TAG}{name}>", "exec"), scope)
    return scope["call"]


class _TaggedLoader:
    """Delegates to a module's loader, running its create/exec steps in a tagged frame."""

    def __init__(self, loader, name):
        self._loader = loader
        self._call = _tagged_call(name)

    def __getattr__(self, attr):
        return getattr(self._loader, attr)

    def create_module(self, spec):
        return self._call(self._loader.create_module, spec)

    def exec_module(self, module):
        return self._call(self._loader.exec_module, module)


class _TaggingFinder:
    """First on sys.meta_path: finds the spec with the other finders and wraps its loader."""

    def find_spec(self, name, path=None, target=None):
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _TaggedLoader(spec.loader, name)
                return spec
        return None


def start():
    tracemalloc.start(FRAMES)
    sys.meta_path.insert(0, _TaggingFinder())


def _charged_module(traceback):
    for frame in reversed(traceback):  # tracemalloc lists the outermost frame first
        if frame.filename.startswith(TAG):
            return frame.filename[len(TAG) : -1]
    return ""


def report():
    """Leaves in the heap, for the snapshot to keep, one bytes object: BEGIN, then as JSON the
    live bytes by (module, kind, file) -- kind "array" for numpy array buffers (with the file
    that allocated them), "object" for the rest -- and which modules are the standard
    library's, then END. The host reads it back out of the snapshot (tools/componentize.py
    --trace-heap): componentize-py keeps only a little of what an app prints at build time."""
    global REPORT
    snapshot = tracemalloc.take_snapshot()
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _TaggingFinder)]
    tracemalloc.stop()
    totals = {}
    for trace in snapshot.traces:
        kind = "array" if trace.domain == NUMPY_DOMAIN else "object"
        where = trace.traceback[-1].filename if kind == "array" else ""
        key = (_charged_module(trace.traceback), kind, where)
        totals[key] = totals.get(key, 0) + trace.size
    rows = [[module, kind, where, size] for (module, kind, where), size in totals.items()]
    text = json.dumps({"rows": rows, "stdlib": sorted(sys.stdlib_module_names)})
    REPORT = BEGIN + text.encode() + END
