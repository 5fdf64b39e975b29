"""The model zoo (models/zoo.py, exported by `make zoo`, which `make test` runs first): every
file loads and matches onnxruntime's output on the same file, saved at export time, natively
with the numpy kernels and inside the component with XNNPACK's:
max|dlogit| <= 1e-3 x max(1, max|logit|) for float32 files, 1e-2 x for float16 ones.

What the engine cannot load yet is a strict xfail named in EXPECTED_FAILURES, the one list to
edit when an operator lands (a model that starts to pass then fails the run until it is taken
off). `pytest -rxX tests/test_zoo.py` reports per model what loads and why not.
"""

import numpy as np
import pytest

from conftest import ROOT, ProbeError
from host.runtime import MEMORY_LIMIT_BYTES, Grants
from models.zoo import folder, selected

import engine

ZOO = selected("ci")
pytestmark = pytest.mark.zoo  # the exports come from `make zoo` (conftest: the kind of a test)

# name -> the error load_model gives on this branch (the first unsupported operator it meets).
EXPECTED_FAILURES: dict = {}


def relative_tolerance(spec):
    return 1e-2 if spec.fp16 else 1e-3


def exported(spec):
    """(model bytes, x, onnxruntime's y); fails when `make zoo` has not run."""
    path = folder(spec)
    if not (path / "meta.json").exists():
        pytest.fail(f"missing {path.relative_to(ROOT)}: run `make zoo` (or `make test`)")
    reference = np.load(path / "reference.npz")
    return (path / "model.onnx").read_bytes(), reference["x"], reference["y"]


def check(spec, got, want):
    assert got.shape == want.shape
    bound = relative_tolerance(spec) * max(1.0, float(np.abs(want).max()))
    diff = float(np.abs(got - want).max())
    print(f"{spec.name}: max|dlogit| {diff:.2e}, bound {bound:.2e}")
    assert diff <= bound


def expected(spec, run):
    """run()'s result; its error re-raised for the strict xfail when it is the one
    EXPECTED_FAILURES names for spec, any other error a plain failure."""
    try:
        return run()
    except (engine.ModelError, ProbeError) as e:
        reason = EXPECTED_FAILURES.get(spec.name)
        if reason and reason in str(e):
            raise
        pytest.fail(f"{type(e).__name__}: {e}")


def expect(spec, raises):
    """The strict xfail of a model EXPECTED_FAILURES names, failing with `raises`."""
    reason = EXPECTED_FAILURES.get(spec.name)
    marks = [pytest.mark.xfail(strict=True, raises=raises, reason=reason)] if reason else []
    return pytest.param(spec, id=spec.name, marks=marks)


@pytest.mark.parametrize("spec", [expect(s, engine.ModelError) for s in ZOO])
def test_native(spec):
    """engine.load_model with numpy's kernels on the host."""
    data, x, y = exported(spec)
    check(spec, expected(spec, lambda: engine.load_model(data, kernels="numpy").run(x)), y)


# The model's folder is granted read-only at /zoo: wasmtime-py would lower a list<u8> argument
# byte by byte, too slow for files of hundreds of MB.
INSIDE = """
x = np.load("/zoo/reference.npz")["x"]
with open("/zoo/model.onnx", "rb") as f:
    model = engine.load_model(f.read(), kernels="xnnpack")
result = model.run(x).tobytes()
"""


@pytest.mark.parametrize("spec", [expect(s, ProbeError) for s in ZOO])
def test_inside_component(probe, spec):
    """The same file inside the probe component, XNNPACK's kernels, one instance per model
    with a memory cap raised for the file (its bytes, the parsed graph, the plan)."""
    data, _, y = exported(spec)
    grants = Grants(
        dirs={folder(spec): "/zoo"},
        memory_limit=max(MEMORY_LIMIT_BYTES, 4 * len(data) + 256 * 2**20),
        cpu_seconds=300.0,
    )
    out = expected(spec, lambda: probe.run(INSIDE, b"", grants))
    check(spec, np.frombuffer(out, np.float32).reshape(y.shape), y)
