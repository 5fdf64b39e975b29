"""The int8 component (`make component QUANT=int8`) served as users serve it (`make serve
QUANT=int8`, wasmtime serve): the int8 model's answers over HTTP are the engine's on the same
bytes natively (XNNPACK's integer kernels inside equal numpy's bit for bit: test_int8.py), and
a burst of clients, good and bad requests mixed, is answered in full: 200s and 4xx JSON, no
500, the server serving after it (the float32 component's burst: test_load_serving.py)."""

import hashlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from conftest import ROOT, require, serving
from photos import ASTRONAUT_JPEG, CAT_CLASSES, CHELSEA_JPEG, COFFEE_JPEG, ESPRESSO, ROCKET_JPEG
from test_http import request

pytestmark = pytest.mark.served

INT8_WASM = ROOT / "build" / "classifier-int8.wasm"
INT8_MODEL = ROOT / "build" / "models" / "efficientnet-lite0-int8.onnx"
PHOTOS = {"chelsea": CHELSEA_JPEG, "coffee": COFFEE_JPEG, "astronaut": ASTRONAUT_JPEG, "rocket": ROCKET_JPEG}
CLIENTS = 24  # concurrent, each posting every photo and a broken body: 120 requests


@pytest.fixture(scope="module")
def int8_server():
    require(INT8_WASM, INT8_MODEL)
    with serving("QUANT=int8") as running:
        yield running


@pytest.fixture(scope="module")
def native(tmp_path_factory):
    """photo name -> the top 5 predictions of the int8 model natively (numpy's kernels)."""
    import classifier
    import settings

    settings.reset()
    model = classifier.Classifier(str(INT8_MODEL))
    out = {name: model.classify(data, 5)[0] for name, data in PHOTOS.items()}
    settings.reset()
    return out


def same_predictions(got, want):
    return [p["index"] for p in got] == [p["index"] for p in want] and np.allclose(
        [p["score"] for p in got], [p["score"] for p in want], rtol=0, atol=1e-6
    )


def test_serves_the_embedded_int8_model(int8_server, native):
    status, _, info = request(int8_server, "/model")
    assert status == 200 and info["name"] == "efficientnet-lite0-int8"
    assert info["sha256"] == hashlib.sha256(INT8_MODEL.read_bytes()).hexdigest()
    for name, data in PHOTOS.items():
        status, _, answer = request(int8_server, "/predict", data, "POST")
        assert status == 200, answer
        assert answer["model"] == "efficientnet-lite0-int8"
        assert same_predictions(answer["predictions"], native[name]), (name, answer["predictions"], native[name])
    assert native["chelsea"][0]["index"] in CAT_CLASSES and native["coffee"][0]["index"] == ESPRESSO


def test_a_burst_of_clients_is_answered_in_full(int8_server, native):
    """Every photo's answer is the native one, every broken body a 400 with a JSON error."""

    def client(_):
        answers = [(name, *request(int8_server, "/predict", data, "POST")[::2]) for name, data in PHOTOS.items()]
        return answers + [("broken", *request(int8_server, "/predict", CHELSEA_JPEG[:2000], "POST")[::2])]

    with ThreadPoolExecutor(CLIENTS) as pool:
        answers = [a for answers in pool.map(client, range(CLIENTS)) for a in answers]
    assert len(answers) == CLIENTS * (len(PHOTOS) + 1)
    for name, status, body in answers:
        if name == "broken":
            assert status == 400 and isinstance(body, dict) and body.get("error"), body
        else:
            assert status == 200 and same_predictions(body["predictions"], native[name]), (name, status, body)
    assert request(int8_server, "/healthz")[::2] == (200, {"status": "ok"})
