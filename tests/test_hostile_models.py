"""Model files as hostile input (tests/model_corpus.py): the named broken models and the seeded
mutants (of float nets and of a uint8 quantized one) load into a Model that runs, or raise ModelError naming the problem -- natively (each
within a time and memory bound, from bytes and from an open file alike), inside the component
(many in one instance, which keeps working), and over HTTP (MODEL_PATH at a broken file: a 503
JSON error, and the server goes on answering)."""

import io
import json
import signal
import time
import tracemalloc
import urllib.error
import urllib.request

import numpy as np
import onnxruntime
import pytest

import model_cases
import model_corpus
from conftest import ARTIFACTS, serving
from engine import ModelError, load_model
from engine import protobuf

SECONDS = 10  # per file, natively (tracemalloc on): a hang is a failure, not a stuck suite
MUTANTS = 600  # natively; 100 per kind of mutation
MUTANTS_INSIDE = 120  # in one instance of the component
MAX_INPUT = 1 << 20  # a mutant's model is run when its input has at most this many elements
CASES = model_cases.cases()


class TooSlow(Exception):
    pass


def _alarm(signum, frame):
    raise TooSlow(f"took more than {SECONDS} s")


def outcome(source):
    """'runs', or 'ModelError: ...' -- anything else propagates (and fails the test)."""
    try:
        model = load_model(source)
    except ModelError as e:
        return f"ModelError: {e}"
    shape = tuple(d or 2 for d in model.input_shape)
    if np.prod(shape, dtype=np.float64) > MAX_INPUT:
        return "loads"
    try:
        out = model.run(np.ones(shape, np.float32))
    except ModelError as e:
        return f"ModelError: {e}"
    assert out.dtype == np.float32
    return "runs"


def bounded(source, size):
    """outcome(source) within SECONDS and a memory peak of 32x the file + 16 MB."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, SECONDS)
    tracemalloc.start()
    try:
        result = outcome(source)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert peak < 32 * size + (16 << 20), f"peak {peak} bytes for a {size}-byte file"
    return result


def test_seeds_match_onnxruntime():
    for name, data in (model_corpus.seeds() | model_corpus.quantized_seeds()).items():
        model = load_model(data)
        x = np.random.default_rng(0).standard_normal([d or 3 for d in model.input_shape]).astype(np.float32)
        session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
        want = session.run(None, {session.get_inputs()[0].name: x})[0]
        assert np.abs(model.run(x) - want).max() < 1e-4, name


@pytest.mark.parametrize("name", list(CASES))
def test_named_case(name):
    data, says = CASES[name]
    result = bounded(data, len(data))
    print(name, "->", result)
    if says is None:
        assert result in ("runs", "loads"), result
    else:
        assert result.startswith("ModelError") and says in result, result


def test_sorting_the_nodes_takes_linear_time():
    """A file may list its nodes in any order: loading a chain listed backwards must not cost a
    pass per node (quadratic: 1024x for 32x the nodes; linear with the load's own overheads:
    60-70x here). Sizes far apart, so that a loaded machine (up to 3x on one measurement, seen
    in CI) cannot blur the two."""
    small, large = 500, 16000
    data = {count: model_cases.reversed_chain(count) for count in (small, large)}
    times: dict[int, list[float]] = {small: [], large: []}
    for _ in range(3):  # interleaved, the fastest of three each: another process's burst is not the sort's cost
        for count in (small, large):
            started = time.perf_counter()
            assert outcome(data[count]) == "runs"
            times[count].append(time.perf_counter() - started)
    seconds = {count: min(t) for count, t in times.items()}
    print(seconds, seconds[large] / seconds[small])
    assert seconds[large] < 250 * seconds[small]


def test_mutants_natively():
    kinds = {}
    quantized = model_corpus.mutants(MUTANTS // 3, seed=5, sources=model_corpus.quantized_seeds())
    for name, data in model_corpus.mutants(MUTANTS) + quantized:
        try:
            result = bounded(data, len(data))
        except Exception as e:
            raise AssertionError(f"mutant {name}: {type(e).__name__}: {e}") from e
        kind = result.split(":")[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    print("mutants natively:", kinds)
    assert kinds.get("ModelError", 0) > MUTANTS // 4 and kinds.get("runs", 0) > MUTANTS // 10


@pytest.fixture
def tiny_windows(monkeypatch):
    """File-backed reading with small thresholds, so that even the seeds' small fields are left
    in the file and the windows refill often."""
    monkeypatch.setattr(protobuf, "EAGER_BYTES", 16)
    monkeypatch.setattr(protobuf, "_WINDOW", 64)


def test_an_open_file_reads_as_the_bytes_do(tiny_windows, tmp_path):
    """Every mutant gives the same outcome from an open file as from its bytes."""
    path = tmp_path / "model.onnx"
    named = [(name, data) for name, (data, _) in CASES.items() if len(data) < 1 << 20]
    for name, data in named + model_corpus.mutants(MUTANTS // 2, seed=7):
        path.write_bytes(data)
        with open(path, "rb") as f:
            assert outcome(f) == outcome(data), name


def test_an_open_file_gives_the_same_numbers(tiny_windows, tmp_path):
    for name, data in model_corpus.seeds().items():
        path = tmp_path / "seed.onnx"
        path.write_bytes(data)
        from_bytes = load_model(data)
        with open(path, "rb") as f:
            from_file = load_model(f)
        x = np.random.default_rng(1).standard_normal([d or 2 for d in from_bytes.input_shape]).astype(np.float32)
        np.testing.assert_array_equal(from_file.run(x), from_bytes.run(x))
        assert from_file.info == from_bytes.info, name


INSIDE = """
archive = np.load(io.BytesIO(data))
names = json.loads(bytes(archive["names"]).decode())
outcomes = {}
for i, name in enumerate(names):
    try:
        model = engine.load_model(archive[f"m{i}"].tobytes())
        shape = tuple(d or 2 for d in model.input_shape)
        if np.prod(shape, dtype=np.float64) <= 1 << 20:
            model.run(np.ones(shape, np.float32))
        outcomes[name] = "ok"
    except engine.ModelError as e:
        outcomes[name] = "ModelError: " + str(e)
    except Exception as e:
        outcomes[name] = "OTHER " + type(e).__name__ + ": " + str(e)
seed = engine.load_model(archive["seed"].tobytes())
outcomes["the seed afterwards"] = seed.run(np.ones(seed.input_shape, np.float32)).tolist()
result = json.dumps(outcomes).encode()
"""


def test_mutants_inside_the_component(probe):
    """Many broken models in one instance: each a ModelError or a model that runs (XNNPACK's
    kernels), never a trap; then a good model still loads and runs there."""
    sample = [(n, d) for n, (d, _) in CASES.items() if len(d) < 1 << 20]
    sample += model_corpus.mutants(MUTANTS_INSIDE, seed=11)
    sample += model_corpus.mutants(MUTANTS_INSIDE // 3, seed=13, sources=model_corpus.quantized_seeds())
    arrays = {f"m{i}": np.frombuffer(d, np.uint8) for i, (_, d) in enumerate(sample)}
    arrays["names"] = np.frombuffer(json.dumps([n for n, _ in sample]).encode(), np.uint8)
    seed = model_corpus.seeds()["conv net"]
    arrays["seed"] = np.frombuffer(seed, np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    outcomes = json.loads(probe.run(INSIDE, buf.getvalue()))
    wrong = {n: o for n, o in outcomes.items() if n != "the seed afterwards" and not o.startswith(("ok", "ModelError"))}
    assert wrong == {}
    for name, (_, says) in CASES.items():
        if name in outcomes and says is not None:
            assert says in outcomes[name], (name, outcomes[name])
    native = load_model(seed).run(np.ones((1, 3, 16, 16), np.float32))
    assert np.abs(np.array(outcomes["the seed afterwards"]) - native).max() < 1e-4


def fetch(base, path, body=None):
    request = urllib.request.Request(base + path, body, method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=120) as r:
            return r.status, r.headers["content-type"], r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers["content-type"], e.read()


@pytest.mark.served
def test_a_broken_model_file_is_a_503_over_http():
    folder = ARTIFACTS / "hostile-models"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "truncated.onnx"
    data = model_corpus.seeds()["conv net"]
    path.write_bytes(data[: len(data) // 2])
    from photos import COFFEE_JPEG

    with serving(f"SERVE_MODEL={path}") as base:
        for _ in range(2):  # and again: the server keeps answering
            status, kind, body = fetch(base, "/predict", COFFEE_JPEG)
            assert status == 503 and kind == "application/json", (status, body[:300])
            message = json.loads(body)["error"]
            assert "truncated.onnx" in message and "not a valid ONNX file" in message, message
            assert fetch(base, "/healthz")[0] == 200
        status, _, body = fetch(base, "/model")
        assert status == 503 and "not a valid ONNX file" in json.loads(body)["error"]
