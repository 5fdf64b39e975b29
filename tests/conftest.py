"""Shared fixtures: components built from test fixtures, the wasmtime runtime to run them,
and the classifier served over HTTP by `make serve`."""
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "component")]

from host.runtime import Runtime  # noqa: E402
# ProbeError: the tests import it from here.
from tools.probe import SITE, Probe, ProbeError, probe_wasm  # noqa: E402,F401

WASM = ROOT / "build" / "classifier.wasm"
SPIN_WASM = ROOT / "build" / "classifier-spin.wasm"  # the same app, also reading Spin variables
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


STARTUP_SECONDS = 120  # the first compile of the component, before wasmtime's cache has it


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server(str):
    """The base URL (what tests use as a string), with the server's log beside it."""

    def __new__(cls, base, log):
        self = super().__new__(cls, base)
        self.log = log
        return self

    def log_text(self):
        return self.log.read_text(errors="replace")


@contextmanager
def serving(*make_args):
    """`make serve` on a free port: the command users run (wasmtime serve here: no spin CLI),
    with extra make arguments (settings, e.g. CORS_ORIGINS=...). Its output goes to a file (a
    pipe nobody reads would block it once full)."""
    require(WASM, MODEL)
    port = free_port()
    log = ROOT / "build" / "test-artifacts" / f"serve-{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        proc = subprocess.Popen(["make", "-s", "serve", f"PORT={port}", *make_args], cwd=ROOT,
                                start_new_session=True, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        try:
            urllib.request.urlopen(base + "/healthz", timeout=5)
            break
        except (urllib.error.URLError, ConnectionError):
            if proc.poll() is not None or time.monotonic() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                pytest.fail(f"wasmtime serve did not start:\n{log.read_text()}")
            time.sleep(0.2)
    try:
        yield Server(base, log)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)


@pytest.fixture(scope="session")
def server():
    with serving() as base:
        yield base


@pytest.fixture
def configure(monkeypatch):
    """Sets the component's settings for native tests: configure(MODEL_PATH=..., CORS_ORIGINS=...)
    makes those environment variables the only settings given, read again by settings.get()."""
    import dataclasses
    import settings

    def set_values(**values):
        for f in dataclasses.fields(settings.Settings):
            monkeypatch.delenv(f.name.upper(), raising=False)
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        settings.reset()

    yield set_values
    settings.reset()  # the next test reads its own (monkeypatch restores the environment after)
