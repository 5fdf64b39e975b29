"""classifier.score_batch natively: N images run as one forward pass of batch N when the
model's batch dimension is symbolic, as N passes of 1 when the model fixes it at 1, with the
same probabilities either way and as one image at a time; undecodable images are per-image
failures; the cap on N, which the API checks before any image is decoded."""

import base64
import json
import shutil

import numpy as np
import onnx
import pytest
import urllib3

from conftest import MODEL, require
from photos import ASTRONAUT_JPEG, CHELSEA_JPEG, COFFEE_JPEG, ROCKET_JPEG

import api
import classifier
import errors

PHOTOS = [CHELSEA_JPEG, COFFEE_JPEG, ASTRONAUT_JPEG, ROCKET_JPEG]


@pytest.fixture(scope="module")
def symbolic():
    require(MODEL)
    return classifier.Classifier(MODEL)


@pytest.fixture(scope="module")
def fixed(tmp_path_factory):
    """The same model with its batch dimension fixed at 1 (input and output)."""
    require(MODEL)
    folder = tmp_path_factory.mktemp("fixed")
    model = onnx.load(MODEL)
    for value in (model.graph.input[0], model.graph.output[0]):
        value.type.tensor_type.shape.dim[0].dim_value = 1
    onnx.save(model, folder / MODEL.name)
    for extra in [MODEL.with_suffix(".json"), MODEL.parent / "imagenet_classes.txt"]:
        shutil.copy(extra, folder)
    return classifier.Classifier(folder / MODEL.name)


def passes(loaded, monkeypatch):
    """Records the batch size of every forward pass `loaded` makes."""
    seen, run = [], loaded.model.run
    monkeypatch.setattr(loaded.model, "run", lambda x: seen.append(len(x)) or run(x))
    return seen


def test_one_pass_of_n_or_n_passes_of_one(symbolic, fixed, monkeypatch, configure):
    configure()
    assert symbolic.model.input_shape[0] is None and fixed.model.input_shape[0] == 1
    batched, fixed_passes = passes(symbolic, monkeypatch), passes(fixed, monkeypatch)
    together, _ = symbolic.score_batch(PHOTOS)
    apart, _ = fixed.score_batch(PHOTOS)
    assert batched == [4] and fixed_passes == [1, 1, 1, 1]
    alone = [symbolic.score_batch([p])[0][0] for p in PHOTOS]
    assert np.abs(np.stack(together) - np.stack(apart)).max() < 1e-5
    assert np.abs(np.stack(together) - np.stack(alone)).max() < 1e-5
    assert np.allclose(np.stack(together).sum(axis=1), 1)


def test_undecodable_images_are_per_image_failures(symbolic, monkeypatch, configure):
    configure()
    seen = passes(symbolic, monkeypatch)
    results, _ = symbolic.score_batch([b"nonsense", CHELSEA_JPEG, CHELSEA_JPEG[:300], COFFEE_JPEG])
    assert [type(r).__name__ for r in results] == ["BadImage", "ndarray", "BadImage", "ndarray"]
    assert seen == [2]  # the two good ones, in one pass
    ranked, _ = symbolic.classify_batch([b"nonsense"], 3)
    assert isinstance(ranked[0], errors.BadImage)


def test_the_cap(configure):
    require(MODEL)
    configure(MODEL_PATH=str(MODEL), MAX_BATCH="3")
    body, content_type = urllib3.encode_multipart_formdata([("image", (f"{i}.jpg", p)) for i, p in enumerate(PHOTOS)])
    answer = api.handle(api.Request("POST", "/predict", {"content-type": [content_type]}, lambda limit: body))
    assert answer.status == 400 and "4 images in one request; the limit is 3" in json.loads(answer.body)["error"]
    for images, says in [(PHOTOS, "4 images in one request; the limit is 3"), ([], "no image")]:
        head = {
            "inputs": [
                {
                    "name": "image",
                    "datatype": "BYTES",
                    "shape": [len(images)],
                    "data": [base64.b64encode(p).decode() for p in images],
                }
            ]
        }
        answer = api.handle(
            api.Request("POST", "/v2/models/efficientnet-lite0/infer", {}, lambda limit: json.dumps(head).encode())
        )
        assert answer.status == 400 and says in json.loads(answer.body)["error"]
