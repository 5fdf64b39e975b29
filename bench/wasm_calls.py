"""Everything the benchmark does with wasmtime, in one place: the host/ harness's Runtime and
call guard, a plain-config runtime beside it, and the typed interface's plumbing (its name,
result unwrapping, error text). When host/ grows one module for these, this file becomes an
import of it."""
import contextlib
import os
import sys
import time

from host.classifier import INTERFACE
from host.runtime import Grants, Runtime  # noqa: F401  (re-exported for the bench's modules)
from host.runtime import call as guarded_call  # a fresh CPU deadline per call


class PlainRuntime:
    """The probe under wasmtime's defaults (plus the compile cache), for comparison with
    host.runtime.Runtime's configuration (which may add e.g. epoch interruption, whose checks
    in every loop cost time in numpy's inner loops)."""

    def __init__(self, wasm_path):
        import wasmtime
        import wasmtime.component as wc
        self._wasmtime = wasmtime
        config = wasmtime.Config()
        config.cache = True
        self.engine = wasmtime.Engine(config)
        self.component = wc.Component.from_file(self.engine, str(wasm_path))
        self.linker = wc.Linker(self.engine)
        self.linker.add_wasip2()
        self.linker.add_wasi_http()

    def instantiate(self, grants=None):
        grants = grants or Grants()
        wasi = self._wasmtime.WasiConfig()
        for host_dir, guest_dir in grants.dirs.items():
            wasi.preopen_dir(str(host_dir), guest_dir, False)
        wasi.inherit_stderr()
        store = self._wasmtime.Store(self.engine)
        store.set_wasi(wasi)
        store.set_limits(memory_size=grants.memory_limit)
        return store, self.linker.instantiate(store, self.component)



def short_error(e):
    """One line of a wasmtime error: its cause (e.g. 'wasm trap: ...') rather than the backtrace."""
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    if "Caused by:" in lines and lines.index("Caused by:") + 1 < len(lines):
        return f"{type(e).__name__}: {lines[lines.index('Caused by:') + 1]}"
    return f"{type(e).__name__}: {lines[0] if lines else ''}"


def unwrap(result):
    """(ok, payload) of a WIT result as wasmtime-py returns it: a Variant tagged 'ok'/'err', or,
    when the two cases have distinct Python types (here: a list or record vs the `error`
    variant), the bare payload."""
    tag = getattr(result, "tag", None)
    if tag in ("ok", "err"):
        return tag == "ok", result.payload
    return tag is None, result


def describe_error(error):
    """'tag: message' of the interface's `error` variant."""
    return f"{getattr(error, 'tag', type(error).__name__)}: {getattr(error, 'payload', error)}"[:200]


def export(store, instance, func):
    index = instance.get_export_index(store, INTERFACE)
    return instance.get_func(store, instance.get_export_index(store, func, index))


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



def timed(store, func, *args):
    t0 = time.perf_counter()
    result = guarded_call(store, func, *args)
    return result, (time.perf_counter() - t0) * 1000

