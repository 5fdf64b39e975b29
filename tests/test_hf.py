"""POST /, Hugging Face's Inference API image-classification contract (component/hf.py):
natively through api.handle (no wasm, no server), numerics against onnxruntime; then stock
huggingface_hub's InferenceClient against `make serve`."""

import base64
import json

import numpy as np
import onnxruntime
import pytest

from conftest import MODEL, require, serving
from photos import CAT_CLASSES, CHELSEA_JPEG, COFFEE_JPEG

import api
import instance
import preprocess


@pytest.fixture
def model(configure):
    require(MODEL)
    configure(MODEL_PATH=str(MODEL))


def post(body, content_type="image/jpeg"):
    """(status, parsed JSON) of POST / natively."""
    request = api.Request("POST", "/", {"content-type": [content_type]}, lambda limit: body)
    response = api.handle(request)
    return response.status, json.loads(response.body)


def post_json(obj):
    return post(json.dumps(obj).encode(), "application/json")


def labels(indices):
    return {instance.get().bundle.labels[i] for i in indices}


def onnxruntime_logits(image):
    """The default model's logits for `image`, by onnxruntime on the same ONNX bytes."""
    x = preprocess.preprocess(image, instance.get().bundle.prep, 10**8)
    session = onnxruntime.InferenceSession(MODEL.read_bytes(), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0][0].astype(np.float64)


def by_label(answer):
    return {p["label"]: p["score"] for p in answer}


def test_raw_body_gives_label_score_pairs_best_first(model):
    status, answer = post(CHELSEA_JPEG)
    assert status == 200 and len(answer) == 5 and all(set(p) == {"label", "score"} for p in answer)
    assert answer[0]["label"] in labels(CAT_CLASSES)
    assert [p["score"] for p in answer] == sorted((p["score"] for p in answer), reverse=True)
    status, predicted = post(CHELSEA_JPEG, "application/octet-stream")
    assert status == 200 and predicted == answer


@pytest.mark.parametrize(
    "inputs",
    [base64.b64encode(COFFEE_JPEG).decode(), "data:image/jpeg;base64," + base64.b64encode(COFFEE_JPEG).decode()],
)
def test_json_base64_or_data_url_with_top_k(model, inputs):
    status, answer = post_json({"inputs": inputs, "parameters": {"top_k": 2}})
    assert status == 200 and len(answer) == 2 and answer[0]["label"] == "espresso"


@pytest.mark.parametrize("function", ["softmax", "sigmoid", "none"])
def test_function_to_apply_matches_onnxruntime(model, function):
    logits = onnxruntime_logits(CHELSEA_JPEG)
    expected = {
        "none": logits,
        "sigmoid": 1 / (1 + np.exp(-logits)),
        "softmax": np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum(),
    }[function]
    status, answer = post_json(
        {
            "inputs": base64.b64encode(CHELSEA_JPEG).decode(),
            "parameters": {"top_k": 1000, "function_to_apply": function},
        }
    )
    assert status == 200 and len(answer) == 1000
    got = by_label(answer)
    names = instance.get().bundle.labels
    np.testing.assert_allclose([got[names[i]] for i in range(1000)], expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "body, fragment",
    [
        ({"inputs": "not base64!"}, "not base64"),
        ({"inputs": "data:image/jpeg,abc"}, ";base64,"),
        ({"inputs": 3}, '"inputs" (the image in base64'),
        ({"image": "abc"}, 'no "inputs"'),
        ({"inputs": "", "extra": 1}, "unknown field 'extra'"),
        ({"inputs": base64.b64encode(b"hello").decode()}, "not an image"),
        ({"inputs": "", "parameters": {"top_k": 0}}, "positive integer"),
        ({"inputs": "", "parameters": {"top_k": "3"}}, '"top_k" must be an integer'),
        ({"inputs": "", "parameters": {"top_k": True}}, '"top_k" must be an integer'),
        ({"inputs": "", "parameters": {"function_to_apply": "relu"}}, "softmax, sigmoid, none"),
        ({"inputs": "", "parameters": {"threshold": 0.5}}, "unknown parameter 'threshold'"),
        ({"inputs": "", "parameters": [1]}, '"parameters" must be an object'),
        ([1, 2], "the request must be an object"),
    ],
)
def test_bad_json_requests_are_400s_saying_why(model, body, fragment):
    status, answer = post_json(body)
    assert status == 400 and fragment in answer["error"], answer


@pytest.mark.parametrize(
    "body, content_type", [(b"", "image/jpeg"), (b"{not json", "application/json"), (b"plain text", "text/plain")]
)
def test_bad_bodies_are_400s(model, body, content_type):
    status, answer = post(body, content_type)
    assert status == 400 and answer["error"]


def test_get_still_serves_the_page_and_options_names_post(model):
    response = api.handle(api.Request("GET", "/", {}))
    assert response.status == 200 and response.content_type.startswith("text/html")
    response = api.handle(api.Request("OPTIONS", "/", {}))
    assert "POST" in dict(response.headers)["allow"]


# --- the stock client against `make serve` ----------------------------------------------


@pytest.fixture(scope="module")
def served():
    with serving() as base:
        yield base


@pytest.mark.served
def test_huggingface_hub_client_classifies(served, tmp_path):
    from huggingface_hub import InferenceClient

    photo = tmp_path / "chelsea.jpg"
    photo.write_bytes(CHELSEA_JPEG)
    client = InferenceClient(model=served)
    answer = client.image_classification(photo)  # sent raw: no parameters
    assert len(answer) == 5 and answer[0].label in {"tiger cat", "Egyptian cat", "tabby"}
    top2 = client.image_classification(COFFEE_JPEG, top_k=2)  # sent as JSON with base64
    assert len(top2) == 2 and top2[0].label == "espresso" and 0.5 < top2[0].score <= 1
    sig = client.image_classification(photo, top_k=1, function_to_apply="sigmoid")
    assert len(sig) == 1 and sig[0].label == answer[0].label and 0.5 < sig[0].score < 1
