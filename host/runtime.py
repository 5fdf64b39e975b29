"""Load a component once, then make sandboxed instances of it with wasmtime-py.

An instance sees only what it is granted here: preopened folders (read-only unless asked),
the environment variables passed in, and no network (wasi:sockets calls fail: nothing is
allowed). Compiled code is kept in wasmtime's cache, so a second process does not recompile.
"""
from dataclasses import dataclass, field
from pathlib import Path

import wasmtime
import wasmtime.component as wc

# Linear-memory cap of one instance. A forward pass of MobileNetV2 at 224x224 peaks well
# under this; the cap turns a runaway allocation into a clean error instead of host OOM.
MEMORY_LIMIT_BYTES = 512 * 1024 * 1024


@dataclass
class Grants:
    """What one instance may touch."""

    dirs: dict = field(default_factory=dict)  # host folder -> guest path, read-only
    env: dict = field(default_factory=dict)
    memory_limit: int = MEMORY_LIMIT_BYTES


class Runtime:
    def __init__(self, wasm_path):
        config = wasmtime.Config()
        config.cache = True
        self.engine = wasmtime.Engine(config)
        self.component = wc.Component.from_file(self.engine, str(wasm_path))
        self.linker = wc.Linker(self.engine)
        self.linker.add_wasip2()
        self.linker.add_wasi_http()  # the types behind the exported wasi:http handler

    def instantiate(self, grants=None):
        """A fresh store and instance: returns (store, instance)."""
        grants = grants or Grants()
        wasi = wasmtime.WasiConfig()
        for host_dir, guest_dir in grants.dirs.items():
            wasi.preopen_dir(str(Path(host_dir)), guest_dir, False)
        wasi.env = list(grants.env.items())
        wasi.inherit_stderr()
        store = wasmtime.Store(self.engine)
        store.set_wasi(wasi)
        store.set_limits(memory_size=grants.memory_limit)
        return store, self.linker.instantiate(store, self.component)
