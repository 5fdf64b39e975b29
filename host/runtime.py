"""Load a component once, then make sandboxed, bounded instances of it with wasmtime-py.

An instance sees only what it is granted: preopened folders (read-only), the environment
variables passed in, and no network (the WASI sockets implementation allows no address).
Two bounds keep a misbehaving guest from hurting the host:
  - memory: the store caps linear memory; past it, memory.grow fails inside the guest
    (CPython raises MemoryError);
  - CPU: epoch interruption; a ticker thread advances the engine's epoch every TICK_SECONDS
    and a call that runs past its deadline traps with an interrupt. The checks it compiles
    into every loop cost time (1.02-1.07x on a forward pass since the convolutions run in
    XNNPACK's kernels, 1.6x with numpy's loops: bench/bench.py), so a Runtime made with
    `cpu_cap=False` (grants with cpu_seconds=None) runs without them.
Compiled code is kept in wasmtime's on-disk cache, so a second process does not recompile.
"""

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import wasmtime
import wasmtime.component as wc

# Linear-memory cap of one instance: a MobileNetV2-family forward pass at 224x224 with its
# weights needs far less; the cap turns a runaway allocation into a MemoryError in the guest.
MEMORY_LIMIT_BYTES = 512 * 1024 * 1024
# CPU cap of one call: a classification takes well under a second here; the first call on a
# model file also plans it.
CPU_LIMIT_SECONDS = 30.0
TICK_SECONDS = 0.01
# Host-side failures of an instantiation that a second attempt gets past. wasmtime makes a
# module's copy-on-write memory image (a sealed memfd) at its first instantiation and keeps it
# only once made; a clean-clone CI run here once got "cannot add seals to the memfd" from the
# kernel there (the guest never ran).
TRANSIENT_INSTANTIATION_ERRORS = ("cannot add seals to the memfd",)


class Trapped(RuntimeError):
    """The instance trapped (the instance is unusable afterwards); the message is the cause."""


class LimitExceeded(Trapped):
    """A call ran past the CPU cap."""


@dataclass
class Grants:
    """What one instance may touch and use."""

    dirs: dict = field(default_factory=dict)  # host folder -> guest path, read-only
    env: dict = field(default_factory=dict)
    memory_limit: int = MEMORY_LIMIT_BYTES
    cpu_seconds: float | None = CPU_LIMIT_SECONDS  # None: no cap, on a Runtime(cpu_cap=False)


class Runtime:
    def __init__(self, wasm_path, cpu_cap=True):
        config = wasmtime.Config()
        config.cache = True
        config.epoch_interruption = cpu_cap
        self.cpu_cap = cpu_cap
        self.path = Path(wasm_path)
        self.engine = wasmtime.Engine(config)
        self.component = wc.Component.from_file(self.engine, str(wasm_path))
        self.linker = wc.Linker(self.engine)
        self.linker.add_wasip2()
        self.linker.add_wasi_http()  # the types behind an exported wasi:http handler
        if cpu_cap:
            _start_ticker(self.engine)

    def instantiate(self, grants=None):
        """A fresh store and instance: returns (store, instance)."""
        grants = grants or Grants()
        if (grants.cpu_seconds is not None) != self.cpu_cap:
            raise ValueError(f"grants with cpu_seconds={grants.cpu_seconds} on a Runtime with cpu_cap={self.cpu_cap}")
        try:
            return self._instantiate(grants)
        except Trapped as e:
            if not any(text in str(e) for text in TRANSIENT_INSTANTIATION_ERRORS):
                raise
            return self._instantiate(grants)

    def _instantiate(self, grants):
        wasi = wasmtime.WasiConfig()
        for host_dir, guest_dir in grants.dirs.items():
            wasi.preopen_dir(str(Path(host_dir)), guest_dir, False)
        wasi.env = list(grants.env.items())
        wasi.inherit_stderr()
        store = wasmtime.Store(self.engine)
        store.set_wasi(wasi)
        store.set_limits(memory_size=grants.memory_limit)
        instance = call(
            store, lambda store: self.linker.instantiate(store, self.component), cpu_seconds=grants.cpu_seconds
        )
        return store, instance


def call(store, func, *args, cpu_seconds=CPU_LIMIT_SECONDS):
    """Calls an exported function with a fresh CPU deadline (None: no cap, on a Runtime
    without epoch interruption); an overrun raises LimitExceeded, any other trap Trapped."""
    if cpu_seconds is not None:
        store.set_epoch_deadline(_ticks(cpu_seconds))
    try:
        return func(store, *args)
    except (wasmtime.Trap, wasmtime.WasmtimeError) as error:
        # Calls report traps as Trap; instantiation wraps them in WasmtimeError.
        code = getattr(error, "trap_code", None)
        if code == wasmtime.TrapCode.INTERRUPT or "wasm trap: interrupt" in str(error):
            raise LimitExceeded(f"stopped after the CPU limit of {cpu_seconds:g} s") from None
        raise Trapped(cause(error)) from error


def cause(error):
    """One line of a wasmtime error: its cause (e.g. 'wasm trap: ...') rather than the backtrace."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if "Caused by:" in lines and lines.index("Caused by:") + 1 < len(lines):
        return lines[lines.index("Caused by:") + 1]
    return lines[0] if lines else type(error).__name__


def _ticks(seconds):
    return max(1, round(seconds / TICK_SECONDS))


_tickers: set = set()


def _start_ticker(engine):
    """One daemon thread per engine advances its epoch (wasm runs with the GIL released)."""
    if id(engine) in _tickers:
        return
    _tickers.add(id(engine))

    def tick():
        while True:
            time.sleep(TICK_SECONDS)
            engine.increment_epoch()

    threading.Thread(target=tick, name="wasmtime-epoch", daemon=True).start()
