"""Big models (tests/big_model.py: ViT-B's size, ~343 MB of float32 weights, generated into
build/test-models/): read from the file a weight at a time, so that loading needs about one
copy of the weights (the plan's) -- natively, and in the classifier component through the
host/ harness under a memory cap of 2x the file; under a cap too small, the model is a
`bad-model` error saying how much memory it needs and which setting raises the cap."""

import tracemalloc

import numpy as np
import onnxruntime
import pytest

import big_model
from conftest import WASM, require
from engine import load_model
from host.classifier import ClassifyError, ComponentClassifier
from host.runtime import Grants
from photos import COFFEE_JPEG


@pytest.fixture(scope="module")
def big():
    return big_model.write(blocks=12)


def test_loads_from_the_file_with_one_copy_of_the_weights(big):
    """Natively (numpy's kernels keep the weights as read): the load's peak is the plan."""
    size = big.stat().st_size
    tracemalloc.start()
    try:
        with open(big, "rb") as f:
            model = load_model(f)
        live, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(f"file {size >> 20} MiB: plan {live >> 20} MiB, peak while loading {peak >> 20} MiB")
    assert peak < 1.05 * size + (16 << 20)
    x = np.random.default_rng(0).standard_normal((2, 3, 16, 16), np.float32)
    session = onnxruntime.InferenceSession(str(big), providers=["CPUExecutionProvider"])
    want = session.run(None, {"x": x})[0]
    assert np.abs(model.run(x) - want).max() <= 1e-3 * max(1.0, float(np.abs(want).max()))


@pytest.mark.component
def test_loads_in_the_component_under_a_cap_of_twice_the_file(big):
    require(WASM)
    size = big.stat().st_size
    classifier = ComponentClassifier(model=big, grants=Grants(memory_limit=2 * size, cpu_seconds=None))
    info = classifier.info()
    assert info["num_classes"] == 1000 and info["parameters"] > size // 4 - (1 << 20)
    assert len(classifier.classify(COFFEE_JPEG, 3)) == 3


@pytest.mark.component
def test_a_cap_too_small_says_what_is_needed_and_where_to_raise_it(big):
    require(WASM)
    size = big.stat().st_size
    classifier = ComponentClassifier(model=big, grants=Grants(memory_limit=size // 2, cpu_seconds=None))
    with pytest.raises(ClassifyError) as failed:
        classifier.info()
    message = str(failed.value)
    print(message)
    assert failed.value.kind == "bad-model" and "out of memory while loading" in message
    assert f"{size >> 20} MiB model needs" in message and "SERVE_MEMORY" in message and "--memory-mib" in message


def test_a_memory_error_while_loading_is_a_model_error_that_says_the_size(tmp_path, monkeypatch):
    """Natively, the classifier's side of it: MemoryError from the engine -> ModelUnavailable."""
    import classifier
    import engine
    from errors import ModelUnavailable

    path = tmp_path / "m.onnx"
    with open(path, "wb") as f:  # 300 MiB, sparse on disk; never parsed here
        f.truncate(300 << 20)

    def out_of_memory(source):
        raise MemoryError

    monkeypatch.setattr(engine, "load_model", out_of_memory)
    with pytest.raises(ModelUnavailable, match=r"a 300 MiB model needs an instance memory cap of about 428 MiB"):
        classifier.Classifier(path)
