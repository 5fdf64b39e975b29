"""Shared fixtures: components built from test fixtures, and the wasmtime runtime to run them."""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "component")]

from host.runtime import Runtime  # noqa: E402
# ProbeError: the tests import it from here.
from tools.probe import SITE, Probe, ProbeError, probe_wasm  # noqa: E402,F401

WASM = ROOT / "build" / "classifier.wasm"
MODEL = ROOT / "build" / "models" / "efficientnet-lite0.onnx"


def require(*paths):
    """Fails (not skips) when a build output is missing: `make test` builds them all first."""
    missing = [str(p.relative_to(ROOT)) for p in paths if not p.exists()]
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: run `make component model` (or `make test`)")


@pytest.fixture(scope="session")
def probe():
    require(SITE / "numpy", SITE / "PIL")
    return Probe(Runtime(probe_wasm()))
