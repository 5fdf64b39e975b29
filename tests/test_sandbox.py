"""What a component can and cannot touch, under the host/ harness's grants and under `make serve`'s,
probed from inside with the probe component; and the harness's CPU and memory caps."""

import socket
import time
import urllib.error
import urllib.request

import pytest

from conftest import HOSTS, MODEL, ROOT, make_served, require
from host.classifier import ClassifyError, ComponentClassifier
from host.runtime import Grants, LimitExceeded
from photos import CHELSEA_JPEG, COFFEE_JPEG, ESPRESSO
from tools.probe import ProbeError, probe_wasm

# name -> (snippet, the path it reaches for)
OUTSIDE = {
    "read /etc/passwd": ("result = open('/etc/passwd', 'rb').read()", "/etc/passwd"),
    "list the root": ("result = repr(os.listdir('/')).encode()", "/"),
    "climb out of the model folder": (
        "result = open('/models/../../../etc/passwd', 'rb').read()",
        "/models/../../../etc/passwd",
    ),
    "read the host's working directory": (
        f"result = open({str(ROOT / 'README.md')!r}, 'rb').read()",
        str(ROOT / "README.md"),
    ),
}
WRITE_MODELS = "open('/models/planted.onnx', 'wb').write(b'x'); result = b'wrote'"
READ_MODELS = "result = open('/models/imagenet_classes.txt', 'rb').read(5)"
# A bytes host: a str one would need the idna codec, which the probe does not bundle (the
# LookupError would then hide whether the sandbox refused).
LOOKUP = "result = repr(socket.getaddrinfo(b'localhost', 80)).encode()"
# The exact refusals (exception type, WASI errno, message), as the probe reports them.
NOT_FOUND = "FileNotFoundError: [Errno 44] No such file or directory: {!r}"
NOT_PERMITTED = "PermissionError: [Errno 63] Operation not permitted: {!r}"
NO_CONNECT = "PermissionError: [Errno 2] Permission denied"
NO_LOOKUP = "gaierror: [Errno -4] Non-recoverable error"


def refusal(name, models_granted):
    """What reaching outside says: a path no grant covers does not exist, and climbing out of
    a granted folder is not permitted."""
    path = OUTSIDE[name][1]
    return (NOT_PERMITTED if models_granted and path.startswith("/models/") else NOT_FOUND).format(path)


@pytest.fixture
def listener():
    """A TCP port on loopback that accepts, to tell a blocked connect from a closed port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        s.settimeout(0.5)
        yield s


def connect_to(port):
    return f"s = socket.socket(); s.connect(('127.0.0.1', {port})); result = b'connected'"


def accepted(listener):
    try:
        listener.accept()[0].close()
        return True
    except TimeoutError:
        return False


# --- under the host/ harness ---------------------------------------------------------


@pytest.fixture(scope="module")
def harness():
    """The probe run with exactly the grants host/ gives a component for `--model MODEL`."""
    require(MODEL)
    classifier = ComponentClassifier(probe_wasm(), model=MODEL)
    return classifier.runtime, classifier.grants


def run(harness, source, **limits):
    from tools.probe import Probe

    runtime, grants = harness
    grants = Grants(grants.dirs, grants.env, **limits) if limits else grants
    return Probe(runtime).run(source, b"", grants)


def refused(harness, source, **limits):
    """The first line of the snippet's exception (its type and message)."""
    with pytest.raises(ProbeError) as error:
        run(harness, source, **limits)
    return str(error.value).splitlines()[0]


def test_harness_grants_read_access_to_the_model_folder_only(harness):
    assert run(harness, READ_MODELS) == b"tench"
    for name, (source, _) in OUTSIDE.items():
        assert refused(harness, source) == refusal(name, models_granted=True), name
    assert refused(harness, WRITE_MODELS) == NOT_PERMITTED.format("/models/planted.onnx")
    assert not (MODEL.parent / "planted.onnx").exists()


def test_harness_passes_no_host_environment(harness):
    assert run(harness, "result = ' '.join(sorted(os.environ)).encode()") == b"MODEL_PATH"


def test_harness_allows_no_network(harness, listener):
    assert refused(harness, connect_to(listener.getsockname()[1])) == NO_CONNECT
    assert not accepted(listener)
    assert refused(harness, LOOKUP) == NO_LOOKUP


def test_cpu_cap_stops_an_endless_loop_and_the_host_goes_on(harness):
    started = time.monotonic()
    with pytest.raises(LimitExceeded, match="CPU limit of 1 s"):
        run(harness, "while True: pass", cpu_seconds=1.0)
    assert time.monotonic() - started < 10
    assert run(harness, "result = b'still here'") == b"still here"


def test_memory_cap_stops_a_huge_allocation_and_the_host_goes_on(harness):
    assert refused(harness, "x = bytearray(1 << 30); result = b'allocated'", memory_limit=256 << 20) == "MemoryError: "
    assert run(harness, "result = bytes(len(bytearray(8 << 20)) // (1 << 20))") == bytes(8)


@pytest.mark.component
def test_classifier_over_its_cpu_cap_is_a_clear_error_then_recovers():
    require(MODEL)
    slow = ComponentClassifier(grants=Grants(cpu_seconds=0.001))
    with pytest.raises(ClassifyError, match="limit: stopped after the CPU limit"):
        slow.classify(CHELSEA_JPEG)
    assert ComponentClassifier().classify(COFFEE_JPEG, 1)[0]["index"] == ESPRESSO


# --- under make serve ----------------------------------------------------------------


@pytest.fixture(
    scope="module",
    params=[(host, grants) for host in HOSTS for grants in ("embedded model", "SERVE_MODEL")],
    ids="-".join,
)
def served_probe(request):
    """The probe served by `make serve-wasm` on each HTTP host, i.e. with the grants `make serve` gives."""
    host, grants = request.param
    extra = [f"SERVE_MODEL={MODEL}"] if grants == "SERVE_MODEL" else []
    with make_served("serve-wasm", host, f"SERVE_WASM={probe_wasm()}", *extra, path="/", name="serve-probe") as base:
        yield base + "/", grants, host


def post(base, source):
    try:
        with urllib.request.urlopen(base, source.encode(), timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except (urllib.error.URLError, ConnectionError):
        return None, b""


def test_make_serve_grants(served_probe, listener):
    base, grants, host = served_probe
    for name, (source, _) in OUTSIDE.items():
        assert post(base, source) == (500, refusal(name, grants == "SERVE_MODEL").encode()), name
    assert post(base, connect_to(listener.getsockname()[1])) == (500, NO_CONNECT.encode())
    assert not accepted(listener)
    assert post(base, LOOKUP) == (500, NO_LOOKUP.encode())
    # No host variable leaks in; wasmtime serve itself sets INSTANCE_ID (the jco host sets none).
    names = post(base, "result = ' '.join(sorted(os.environ)).encode()")[1].split()
    expected = [b"INSTANCE_ID"] if host == "wasmtime" else []
    assert names == sorted(expected + ([b"MODEL_PATH"] if grants == "SERVE_MODEL" else []))
    if grants == "SERVE_MODEL":
        assert post(base, READ_MODELS) == (200, b"tench")
    else:
        # Nothing granted at all: no model folder, nowhere to write.
        assert post(base, READ_MODELS) == (500, NOT_FOUND.format("/models/imagenet_classes.txt").encode())
        assert post(base, WRITE_MODELS) == (500, NOT_FOUND.format("/models/planted.onnx").encode())


# Misbehaving guests, one request each; the next request of the same server must be served.
TRAPS = {
    # An exception the probe's handler does not catch escapes the export: componentize-py's
    # runtime panics and the instance traps.
    "a trap": "raise KeyboardInterrupt",
    # wasi:cli/exit: ends the instance (under jco's shim it would end the Node process).
    "an exit": "os._exit(3)",
}

# What each host answers for a request whose instance trapped (the probe's own errors are
# "TypeName: message").
TRAP_ANSWERS = {"wasmtime": b"<h1>500 Internal Server Error</h1>", "jco": b"the instance trapped"}


def test_make_serve_survives_traps_and_caps_memory(served_probe):
    base, _, host = served_probe
    for name, source in TRAPS.items():
        status, answer = post(base, source)
        assert status == 500 and TRAP_ANSWERS[host] in answer, (name, answer)
        assert post(base, "result = b'still here'") == (200, b"still here"), name
    # Both hosts cap linear memory at SERVE_MEMORY (512 MiB): past it the guest gets MemoryError.
    assert post(base, "x = bytearray(1 << 30); result = b'allocated'") == (500, b"MemoryError: ")
    assert post(base, "x = bytearray(256 << 20); result = b'allocated'") == (200, b"allocated")
