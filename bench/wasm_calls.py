"""What the benchmark does with wasmtime beyond host/: the classifier's typed interface called
through host.exports (found once per runtime), calls expected to fail kept quiet, calls timed."""

import contextlib
import os
import sys
import time

from host.exports import CLASSIFIER, Export, describe
from host.runtime import CPU_LIMIT_SECONDS, Grants, Runtime, cause  # noqa: F401  (re-exported)

_exports = {}


def call(runtime, store, instance, func, *args):
    """(ok, payload) of the interface's function `func` in `instance`, under the harness's CPU cap."""
    if (runtime, func) not in _exports:
        _exports[runtime, func] = Export(runtime, func, CLASSIFIER)
    return _exports[runtime, func].call(store, instance, *args, cpu_seconds=CPU_LIMIT_SECONDS)


def timed(runtime, store, instance, func, *args):
    """(call's (ok, payload), milliseconds)."""
    t0 = time.perf_counter()
    result = call(runtime, store, instance, func, *args)
    return result, (time.perf_counter() - t0) * 1000


def short_error(e):
    """One line of a wasmtime error: its cause (e.g. 'wasm trap: ...') rather than the backtrace."""
    return f"{type(e).__name__}: {cause(e)}"


def describe_error(error):
    """'case: message' of the interface's `error` variant, cut for a table."""
    return describe(error)[:200]


@contextlib.contextmanager
def quiet_stderr():
    """The instances inherit stderr; silence the tracebacks of calls expected to fail."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "wb") as null:
        os.dup2(null.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
