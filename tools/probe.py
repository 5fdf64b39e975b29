"""The probe component (tests/probe): runs a Python snippet inside the sandbox, with numpy,
Pillow and the project's engine (component/engine) imported. Used by the tests and by
bench/bench.py.

    probe = Probe(Runtime(probe_wasm()))
    result_bytes = probe.run("result = np.arange(3).tobytes()")

The component is built once per content of its sources and of the cross-build stamps, into
build/test-components/probe-<key>.wasm.
"""

import hashlib
from pathlib import Path

from host.exports import Export, describe
from host.runtime import Grants
from tools import componentize

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "build" / "wasi" / "site-packages"
FIXTURE = ROOT / "tests" / "probe"
COMPONENT = ROOT / "component"
OUT_DIR = ROOT / "build" / "test-components"


def fingerprint(paths):
    """Hash of the given files' contents and of the cross-build stamps: a rebuild key."""
    digest = hashlib.sha256()
    stamps = ROOT / "build" / "wasi"
    for p in (
        sorted(paths)
        + sorted(stamps.glob(".numpy*"))
        + sorted(stamps.glob(".pillow*"))
        + sorted(stamps.glob(".kernels*"))
    ):
        digest.update(str(p).encode())
        digest.update(p.read_bytes() if p.suffix in (".py", ".wit") else str(p.stat().st_mtime_ns).encode())
    return digest.hexdigest()[:16]


def probe_wasm():
    """Path of the probe component for the current sources, building it if needed."""
    sources = list(FIXTURE.rglob("*.py")) + list(FIXTURE.rglob("*.wit")) + list(COMPONENT.rglob("*.py"))
    wasm = OUT_DIR / f"probe-{fingerprint(sources)}.wasm"
    if not wasm.exists():
        # component/ is on the path so the probe can run the engine exactly as the app does.
        # Built beside its final name, then renamed: an interrupted build leaves no stale key.
        partial = wasm.with_suffix(".partial.wasm")
        componentize.build(FIXTURE / "wit" / "probe.wit", "probe", FIXTURE, "app", partial, [ROOT / "component", SITE])
        partial.replace(wasm)
    return wasm


class ProbeError(Exception):
    """The snippet raised inside the component; the message carries its traceback."""


class Probe:
    """Runs Python snippets inside a fresh instance of the probe component."""

    def __init__(self, runtime):
        self.runtime = runtime
        self._run = Export(runtime, "run")

    def run(self, source, data=b"", grants=None):
        """Returns the bytes the snippet binds to `result`; raises ProbeError on its exception."""
        grants = grants or Grants()
        store, instance = self.runtime.instantiate(grants)
        ok, payload = self._run.call(store, instance, source, data, cpu_seconds=grants.cpu_seconds)
        if not ok:
            raise ProbeError(describe(payload))
        return bytes(payload)
