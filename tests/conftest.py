"""Shared fixtures: components built from test fixtures, and the wasmtime runtime to run them."""
import hashlib
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "component")]

from host.runtime import Runtime  # noqa: E402
from tools import componentize  # noqa: E402

SITE = ROOT / "build" / "wasi" / "site-packages"


def _fingerprint(paths):
    """Hash of the given files' contents and of the cross-build stamps: a rebuild key."""
    digest = hashlib.sha256()
    for p in sorted(paths) + sorted((ROOT / "build" / "wasi").glob(".numpy*")) + sorted(
            (ROOT / "build" / "wasi").glob(".pillow*")):
        digest.update(str(p).encode())
        digest.update(p.read_bytes() if p.suffix in (".py", ".wit") else str(p.stat().st_mtime_ns).encode())
    return digest.hexdigest()[:16]


class Probe:
    """Runs Python snippets inside a fresh instance of the probe component."""

    def __init__(self, runtime):
        self.runtime = runtime

    def run(self, source, data=b""):
        """Returns the bytes the snippet binds to `result`; raises ProbeError on its exception."""
        store, instance = self.runtime.instantiate()
        result = instance.get_func(store, "run")(store, source, data)
        if result.tag == "err":
            raise ProbeError(result.payload)
        return bytes(result.payload)


class ProbeError(Exception):
    pass


@pytest.fixture(scope="session")
def probe():
    if not (SITE / "numpy").is_dir() or not (SITE / "PIL").is_dir():
        pytest.fail("build/wasi/site-packages lacks numpy or PIL: run `make wasi-deps`")
    fixture = ROOT / "tests" / "probe"
    sources = list(fixture.rglob("*.py")) + list(fixture.rglob("*.wit"))
    wasm = ROOT / "build" / "test-components" / f"probe-{_fingerprint(sources)}.wasm"
    if not wasm.exists():
        componentize.build(fixture / "wit" / "probe.wit", "probe", fixture, "app", wasm, [SITE])
    return Probe(Runtime(wasm))
