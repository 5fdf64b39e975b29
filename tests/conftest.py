"""Shared fixtures: components built from test fixtures, the wasmtime runtime to run them,
the classifier served over HTTP by `make serve` on each HTTP host, and a page in Chromium."""

import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "component")]

from host.runtime import Runtime  # noqa: E402
from tools import served  # noqa: E402

# ProbeError: the tests import it from here.
from tools.probe import SITE, Probe, ProbeError, probe_wasm  # noqa: E402,F401

# Tests that start servers of their own import these from here.
from tools.served import STARTUP_SECONDS, free_port  # noqa: E402,F401

# Every test is one of these kinds (pytest -m KIND; pyproject.toml declares them): marked by
# its module's `pytestmark`, its own mark, or here by the fixtures it uses (directly or through
# others); a test with none of them is native. `make check` runs the native ones.
KIND_OF_FIXTURE = {
    "browser_page": "browser",
    "server": "served",
    "served_probe": "served",
    "cors_server": "served",
    "probe": "component",
    "runtime": "component",
    "harness": "component",
    "inside": "component",
    "component_codecs": "component",
    "figures": "component",
}
KINDS = ("browser", "served", "component", "zoo", "photos", "native")  # the first that applies


def pytest_collection_modifyitems(items):
    for item in items:
        marked = {m.name for m in item.iter_markers() if m.name in KINDS}
        kinds = marked | {kind for name, kind in KIND_OF_FIXTURE.items() if name in item.fixturenames}
        kind = next((k for k in KINDS if k in kinds), "native")
        if kind not in marked:
            item.add_marker(kind)


WASM = ROOT / "build" / "classifier.wasm"
SPIN_WASM = ROOT / "build" / "classifier-spin.wasm"  # the same app, also reading Spin variables
MODEL = ROOT / "build" / "models" / "efficientnet-lite0.onnx"
ARTIFACTS = ROOT / "build" / "test-artifacts"


def require(*paths):
    """Fails (not skips) when a build output is missing: `make test` builds them all first."""
    missing = [str(p.relative_to(ROOT)) for p in paths if not p.exists()]
    if missing:
        pytest.fail(f"missing {', '.join(missing)}: run `make component model` (or `make test`)")


@pytest.fixture(scope="session")
def probe():
    require(SITE / "numpy", SITE / "PIL")
    return Probe(Runtime(probe_wasm()))


# The HTTP hosts every test of the `server` fixture runs on (docs/performance.md, "The two HTTP runtimes compared"): wasmtime serve
# (what `make serve` runs without a spin CLI) and jco in Node (`make serve RUNTIME=jco`).
HOSTS = ("wasmtime", "jco")


class Server(str):
    """The base URL of a served classifier (tests use it as a string), the host serving it and
    the file its output goes to."""

    def __new__(cls, base, host, log):
        server = super().__new__(cls, base)
        server.host, server.log = host, log
        return server

    def log_text(self):
        return self.log.read_text(errors="replace")


# Where jco differs in a way a test notices (docs/performance.md, "The two HTTP runtimes compared"): such a test is a strict xfail on
# jco with the reason, through xfail_on().
JCO_NODE_ANSWERS_SHORT_BODY = (
    "Node's HTTP parser answers a half-closed request whose body is shorter than its "
    "Content-Length itself (400, no body), before the component's JSON 400"
)


def xfail_on(request, server, host, reason):
    """Marks the running test as failing, for `reason`, when `server` is on `host` (strict: a fix shows)."""
    if server.host == host:
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))


@contextmanager
def make_served(target, host, *make_args, path="/healthz", name=None):
    """tools/served.py's make_served as a Server, its log in build/test-artifacts/; a server that
    does not start fails the test."""
    try:
        with served.make_served(target, host, *make_args, log_dir=ARTIFACTS, name=name, path=path) as (base, log):
            yield Server(base, host, log)
    except served.NotServing as e:
        pytest.fail(str(e))


def serving(*make_args, host="wasmtime"):
    """`make serve` on a free port, with extra make arguments (settings, e.g. CORS_ORIGINS=...)."""
    require(WASM, MODEL)
    return make_served("serve", host, *make_args)


@pytest.fixture(scope="session", params=HOSTS)
def server(request):
    """`make serve RUNTIME=...` on a free port: the command users run, on each host in turn."""
    with serving(host=request.param) as running:
        yield running


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


# --- a page in Debian's Chromium, driven by Playwright ----------------------------------

CHROMIUM = Path("/usr/bin/chromium")
BROWSER_TIMEOUT_MS = 120_000  # one prediction (or the page's component loading) on a busy machine
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser_page(tmp_path_factory):
    """One page in a fresh profile, and the list of its uncaught script errors; fails (not
    skips) when Chromium or Playwright is missing."""
    if not CHROMIUM.exists():
        pytest.fail(
            "Chromium not found at /usr/bin/chromium: install Debian's package with `tools/apt-install.sh browser`"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright for Python is missing: `make venv` (pip install -r requirements.txt)")
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 800, "height": 900},
        )
        page = context.pages[0] if context.pages else context.new_page()
        page.set_default_timeout(BROWSER_TIMEOUT_MS)
        errors = []
        page.on("pageerror", lambda error: errors.append(error))
        yield page, errors
        context.close()
