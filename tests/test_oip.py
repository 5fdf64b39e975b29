"""The Open Inference Protocol v2 through `make serve`: driven by the stock tritonclient (health,
metadata, binary and JSON inputs, batches of real photos, class_count, request ids, errors),
and by plain HTTP for what no client library sends: malformed heads, lying sizes, wrong
datatypes and shapes, unknown models."""

import base64
import http.client
import json
import struct
from urllib.parse import urlsplit

import numpy as np
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from conftest import MODEL
from photos import ASTRONAUT_JPEG, CAT_CLASSES, CHELSEA, CHELSEA_JPEG, COFFEE_JPEG, ESPRESSO, ROCKET_JPEG, encode

import settings

NAME = "efficientnet-lite0"
INFER = f"/v2/models/{NAME}/infer"
LABELS = (MODEL.parent / "imagenet_classes.txt").read_text().splitlines()
PHOTOS = [CHELSEA_JPEG, COFFEE_JPEG, ASTRONAUT_JPEG, encode(CHELSEA, "PNG"), ROCKET_JPEG]
MAX_BATCH = settings.DEFAULTS.max_batch


@pytest.fixture(scope="module")
def client(server):
    with triton.InferenceServerClient(urlsplit(server).netloc, network_timeout=300) as c:
        yield c


def image_input(images, binary=True):
    tensor = triton.InferInput("image", [len(images)], "BYTES")
    if binary:
        tensor.set_data_from_numpy(np.array(images, dtype=object))
    else:  # JSON: base64 text (tritonclient sends the strings as they are)
        tensor.set_data_from_numpy(np.array([base64.b64encode(i) for i in images], dtype=object), binary_data=False)
    return tensor


def single(server, image):
    """The probabilities of one image through POST /predict (top 5), for comparison."""
    status, answer = post(server, "/predict?top_k=5", image)
    assert status == 200, answer
    return answer["predictions"]


def test_health_and_metadata(client):
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready(NAME) and client.is_model_ready(NAME, "1")
    assert not client.is_model_ready("resnet50") and not client.is_model_ready(NAME, "2")
    server = client.get_server_metadata()
    assert {"binary_tensor_data", "classification"} <= set(server["extensions"])
    for metadata in (client.get_model_metadata(NAME), client.get_model_metadata(NAME, "1")):
        assert metadata["name"] == NAME and metadata["versions"] == ["1"]
        assert metadata["inputs"] == [{"name": "image", "datatype": "BYTES", "shape": [-1]}]
        assert metadata["outputs"] == [{"name": "probabilities", "datatype": "FP32", "shape": [-1, 1000]}]
    with pytest.raises(InferenceServerException) as error:
        client.get_model_metadata("resnet50")
    assert error.value.status() == "404" and NAME in error.value.message()


def test_binary_batch_of_real_photos_matches_single_requests(server, client):
    result = client.infer(NAME, [image_input(PHOTOS)])  # tritonclient's defaults: binary both ways
    probabilities = result.as_numpy("probabilities")
    assert probabilities.shape == (len(PHOTOS), 1000) and probabilities.dtype == np.float32
    assert np.allclose(probabilities.sum(axis=1), 1, atol=1e-4)
    assert probabilities[0].argmax() in CAT_CLASSES and probabilities[3].argmax() in CAT_CLASSES
    assert probabilities[1].argmax() == ESPRESSO
    for row, image in zip(probabilities, PHOTOS):  # one forward pass of 5 = five passes of 1
        for p in single(server, image):
            assert abs(row[p["index"]] - p["score"]) < 1e-5, p


def test_json_inputs_and_outputs(client):
    binary = client.infer(NAME, [image_input(PHOTOS[:2])]).as_numpy("probabilities")
    result = client.infer(
        NAME,
        [image_input(PHOTOS[:2], binary=False)],
        outputs=[triton.InferRequestedOutput("probabilities", binary_data=False)],
    )
    assert "parameters" not in result.get_response()["outputs"][0]  # the data came as JSON
    assert np.allclose(result.as_numpy("probabilities"), binary, atol=1e-7)


@pytest.mark.parametrize("binary", [True, False])
def test_class_count(client, binary):
    outputs = [triton.InferRequestedOutput("probabilities", binary_data=binary, class_count=3)]
    result = client.infer(NAME, [image_input(PHOTOS[:2], binary)], outputs=outputs)
    classes = result.as_numpy("probabilities")
    assert classes.shape == (2, 3)
    for row, expected in zip(classes, (CAT_CLASSES, {ESPRESSO})):
        parsed = [(bytes(c) if binary else c.encode()).decode().split(":", 2) for c in row]
        scores = [float(score) for score, _, _ in parsed]
        assert scores == sorted(scores, reverse=True) and 0 < sum(scores) <= 1
        assert int(parsed[0][1]) in expected
        assert all(label == LABELS[int(index)] for _, index, label in parsed)
    everything = client.infer(
        NAME, [image_input(PHOTOS[:1])], outputs=[triton.InferRequestedOutput("probabilities", class_count=5000)]
    )
    assert everything.as_numpy("probabilities").shape == (1, 1000)


def test_request_id_and_version_path(client):
    result = client.infer(NAME, [image_input(PHOTOS[:1])], request_id="req-42", model_version="1")
    answer = result.get_response()
    assert answer["id"] == "req-42" and answer["model_name"] == NAME and answer["model_version"] == "1"
    assert "id" not in client.infer(NAME, [image_input(PHOTOS[:1])]).get_response()


@pytest.mark.parametrize("model,version,status", [("resnet50", "", "404"), (NAME, "2", "404")])
def test_unknown_model_or_version(client, model, version, status):
    with pytest.raises(InferenceServerException) as error:
        client.infer(model, [image_input(PHOTOS[:1])], model_version=version)
    assert error.value.status() == status


def test_an_undecodable_element_fails_the_batch_naming_it(client):
    with pytest.raises(InferenceServerException) as error:
        client.infer(NAME, [image_input([CHELSEA_JPEG, b"not an image at all", COFFEE_JPEG])])
    assert error.value.status() == "400"
    assert "element 1 of 3" in error.value.message() and "not an image" in error.value.message()


def test_batch_cap(client):
    tiny = encode(CHELSEA.resize((32, 32)), "PNG")
    with pytest.raises(InferenceServerException) as error:
        client.infer(NAME, [image_input([tiny] * (MAX_BATCH + 1))])
    assert error.value.status() == "400" and f"limit is {MAX_BATCH}" in error.value.message()


# --- plain HTTP: what a client library would not send ----------------------------------------


def post(server, path, body, headers=(), method="POST"):
    """(status, parsed JSON) of one request with exactly these headers (repeats allowed)."""
    connection = http.client.HTTPConnection(urlsplit(server).netloc, timeout=300)
    connection.putrequest(method, path)
    for name, value in headers:
        connection.putheader(name, value)
    connection.putheader("Content-Length", str(len(body)))
    connection.endheaders(body)
    response = connection.getresponse()
    raw = response.read()
    connection.close()
    assert response.getheader("content-type", "").startswith(("application/json", "application/octet-stream")), raw
    return response.status, json.loads(raw) if response.getheader("content-type") == "application/json" else raw


def elements(*images):
    return b"".join(struct.pack("<I", len(i)) + i for i in images)


def binary_request(binary, shape=None, size=None, head_length=None, **tensor):
    """A binary-extension request: (body, headers). size/head_length default to the truth."""
    tensor = {
        "name": "image",
        "datatype": "BYTES",
        "shape": shape or [1],
        "parameters": {"binary_data_size": len(binary) if size is None else size},
        **tensor,
    }
    head = json.dumps({"inputs": [tensor]}).encode()
    return head + binary, [("Inference-Header-Content-Length", str(len(head)) if head_length is None else head_length)]


def json_request(inputs=None, **extra):
    inputs = (
        inputs
        if inputs is not None
        else [{"name": "image", "datatype": "BYTES", "shape": [1], "data": [base64.b64encode(CHELSEA_JPEG).decode()]}]
    )
    return json.dumps({"inputs": inputs, **extra}).encode(), []


GOOD = elements(CHELSEA_JPEG)
MALFORMED = {
    # the JSON head
    "not JSON": ((b"{this is not json", []), 400, "does not parse"),
    "not UTF-8": ((b'{"inputs": "\xff\xfe"}', []), 400, "not UTF-8"),
    "an array": ((b"[]", []), 400, "must be an object"),
    "empty body": ((b"", []), 400, "does not parse"),
    "nested 5000 deep": ((b"[" * 5000 + b"]" * 5000, []), 400, "more than 64 arrays"),
    "no inputs": (json_request([]), 400, "one input"),
    "two inputs": (json_request([{"name": "image"}, {"name": "image"}]), 400, "one input"),
    "inputs not an array": ((b'{"inputs": {"name": "image"}}', []), 400, '"inputs" must be an array'),
    "unknown input": (
        json_request([{"name": "input", "datatype": "BYTES", "shape": [1], "data": ["AA=="]}]),
        400,
        "unknown input",
    ),
    "FP32 tensor": (
        json_request([{"name": "image", "datatype": "FP32", "shape": [1, 3, 224, 224], "data": [0.0]}]),
        400,
        "is BYTES",
    ),
    "shape [1, 1]": (binary_request(GOOD, shape=[1, 1]), 400, "send [N]"),
    "shape [-1]": (binary_request(GOOD, shape=[-1]), 400, "send [N]"),
    "shape [true]": (binary_request(GOOD, shape=[True]), 400, "send [N]"),
    'shape ["1"]': (binary_request(GOOD, shape=["1"]), 400, "send [N]"),
    "shape [0]": (binary_request(b"", shape=[0]), 400, "no image"),
    "shape over the batch cap": (binary_request(GOOD, shape=[MAX_BATCH + 1]), 400, f"limit is {MAX_BATCH}"),
    "id not a string": (json_request(id=42), 400, '"id" must be a string'),
    "unknown output": (json_request(outputs=[{"name": "logits"}]), 400, "unknown output"),
    "classification -1": (
        json_request(outputs=[{"name": "probabilities", "parameters": {"classification": -1}}]),
        400,
        "classification",
    ),
    'classification "3"': (
        json_request(outputs=[{"name": "probabilities", "parameters": {"classification": "3"}}]),
        400,
        "classification must be an integer",
    ),
    'binary_data "yes"': (
        json_request(outputs=[{"name": "probabilities", "parameters": {"binary_data": "yes"}}]),
        400,
        "binary_data must be true or false",
    ),
    "shared memory": (
        binary_request(GOOD, parameters={"shared_memory_region": "r", "shared_memory_byte_size": 9}),
        400,
        "shared memory",
    ),
    # JSON data
    "data not base64": (
        json_request([{"name": "image", "datatype": "BYTES", "shape": [1], "data": ["not base64!"]}]),
        400,
        "not base64",
    ),
    "data element a number": (
        json_request([{"name": "image", "datatype": "BYTES", "shape": [1], "data": [123]}]),
        400,
        "must be a string",
    ),
    "data missing": (json_request([{"name": "image", "datatype": "BYTES", "shape": [1]}]), 400, "must be an array"),
    "data shorter than the shape": (
        json_request(
            [{"name": "image", "datatype": "BYTES", "shape": [2], "data": [base64.b64encode(CHELSEA_JPEG).decode()]}]
        ),
        400,
        "holds 1 elements",
    ),
    "data and binary_data_size": (binary_request(GOOD, data=["AA=="]), 400, "both"),
    # sizes that lie: Inference-Header-Content-Length
    "head length not a number": (binary_request(GOOD, head_length="abc"), 400, "must be a number of bytes"),
    "head length negative": (binary_request(GOOD, head_length="-5"), 400, "must be a number of bytes"),
    "head length fractional": (binary_request(GOOD, head_length="1.5"), 400, "must be a number of bytes"),
    "head length exponent": (binary_request(GOOD, head_length="1e3"), 400, "must be a number of bytes"),
    "head length huge": (binary_request(GOOD, head_length="9" * 40), 400, "but the body has"),
    "head length past the body": (binary_request(GOOD, head_length=str(10**6)), 400, "but the body has"),
    "head length too short": (binary_request(GOOD, head_length="20"), 400, "does not parse"),
    "head length too long": (
        binary_request(GOOD, head_length=str(len(binary_request(GOOD)[0]) - len(GOOD) + 2)),
        400,
        "the inference request's JSON",
    ),  # does not parse, or is not UTF-8
    "head length zero": (binary_request(GOOD, head_length="0"), 400, "does not parse"),
    # sizes that lie: binary_data_size and the element lengths
    "binary_data_size too big": (binary_request(GOOD, size=len(GOOD) + 1), 400, "bytes follow the JSON"),
    "binary_data_size too small": (binary_request(GOOD, size=len(GOOD) - 1), 400, "bytes follow the JSON"),
    "binary_data_size negative": (binary_request(GOOD, size=-1), 400, "bytes follow the JSON"),
    "binary_data_size fractional": (binary_request(GOOD, size=1.5), 400, "binary_data_size must be an integer"),
    "binary_data_size true": (binary_request(GOOD, size=True), 400, "binary_data_size must be an integer"),
    "binary without a head length": ((binary_request(GOOD)[0], []), 400, "needs an Inference-Header-Content-Length"),
    "element longer than the data": (
        binary_request(struct.pack("<I", 10**6) + CHELSEA_JPEG),
        400,
        "declares 1000000 bytes",
    ),
    "element length cut off": (binary_request(GOOD + b"\x01\x00"), 400, "holds more than the 1 elements"),
    "element length cut off, shape 2": (binary_request(GOOD + b"\x01\x00", shape=[2]), 400, "is cut off"),
    "more elements than the shape": (
        binary_request(elements(CHELSEA_JPEG, COFFEE_JPEG)),
        400,
        "holds more than the 1 elements",
    ),
    "fewer elements than the shape": (binary_request(GOOD, shape=[3]), 400, "holds 1 elements"),
    "binary after a JSON-only input": (
        (json_request()[0] + b"extra", [("Inference-Header-Content-Length", str(len(json_request()[0])))]),
        400,
        "has no binary_data_size",
    ),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_requests_are_400s_naming_the_problem(server, case):
    (body, headers), status, fragment = MALFORMED[case]
    got, answer = post(server, INFER, body, headers)
    assert (got, fragment in answer["error"]) == (status, True), answer


def test_repeated_head_length_and_compressed_bodies(server):
    body, headers = binary_request(GOOD)
    status, answer = post(server, INFER, body, headers * 2)
    assert status == 400 and "more than once" in answer["error"]
    status, answer = post(server, INFER, body, [*headers, ("Content-Encoding", "gzip")])
    assert status == 415 and "uncompressed" in answer["error"]


@pytest.mark.parametrize(
    "path,status",
    [
        ("/v2/models/resnet50/infer", 404),
        (f"/v2/models/{NAME}/versions/7/infer", 404),
        ("/v2/models/resnet50/ready", 404),
        ("/v2/models/resnet50/versions/1", 404),
    ],
)
def test_unknown_models_are_404s(server, path, status):
    method = "POST" if path.endswith("/infer") else "GET"
    got, answer = post(
        server,
        path,
        binary_request(GOOD)[0] if method == "POST" else b"",
        binary_request(GOOD)[1] if method == "POST" else (),
        method,
    )
    assert got == status and "error" in answer


def test_a_404_after_a_large_body_sent_before_reading(server):
    body, headers = binary_request(elements(bytes(6 * 1024 * 1024)))
    status, answer = post(server, "/v2/models/resnet50/infer", body, headers)  # sends all, then reads
    assert status == 404 and "unknown model" in answer["error"]


def test_binary_answer_layout_on_the_wire(server):
    """The answer's own framing, read without tritonclient: JSON head, then the tensor."""
    head = json.dumps(
        {
            "id": "raw",
            "inputs": [
                {
                    "name": "image",
                    "datatype": "BYTES",
                    "shape": [2],
                    "parameters": {"binary_data_size": len(elements(*PHOTOS[:2]))},
                }
            ],
            "outputs": [{"name": "probabilities", "parameters": {"binary_data": True, "classification": 2}}],
        }
    )
    connection = http.client.HTTPConnection(urlsplit(server).netloc, timeout=300)
    connection.request(
        "POST", INFER, head.encode() + elements(*PHOTOS[:2]), {"Inference-Header-Content-Length": str(len(head))}
    )
    response = connection.getresponse()
    body = response.read()
    assert response.status == 200 and response.getheader("content-type") == "application/octet-stream"
    length = int(response.getheader("inference-header-content-length"))
    answer = json.loads(body[:length])
    [output] = answer["outputs"]
    assert answer["id"] == "raw" and output["shape"] == [2, 2] and output["datatype"] == "BYTES"
    data, texts = body[length:], []
    assert len(data) == output["parameters"]["binary_data_size"]
    while data:
        size = struct.unpack("<I", data[:4])[0]
        texts.append(data[4 : 4 + size].decode())
        data = data[4 + size :]
    assert len(texts) == 4 and texts[2].split(":")[1:] == [str(ESPRESSO), "espresso"]


def test_server_still_serves_after_the_malformed(client):
    assert client.is_server_live()
    assert client.infer(NAME, [image_input(PHOTOS[:1])]).as_numpy("probabilities").shape == (1, 1000)


# --- the codec natively, on every shape of JSON value and random damage --------------------

VALUES = [None, True, False, 0, 1, -1, 2**70, 1.5, "", "image", "BYTES", [], [1], ["AA=="], [[1]], {}, {"a": 1}]


def outcome(body, declared):
    """'ok' or 'bad request': anything else (a 500) fails the test."""
    import errors
    import oip_codec

    try:
        oip_codec.read_request(body, declared, MAX_BATCH)
        return "ok"
    except errors.BadRequest:
        return "bad request"


def test_codec_any_value_in_any_field(configure):
    configure()
    good = {
        "id": "x",
        "parameters": {"binary_data_output": True},
        "inputs": [{"name": "image", "datatype": "BYTES", "shape": [1], "parameters": {"binary_data_size": len(GOOD)}}],
        "outputs": [{"name": "probabilities", "parameters": {"binary_data": False, "classification": 2}}],
    }
    paths = [
        ("id",),
        ("parameters",),
        ("parameters", "binary_data_output"),
        ("inputs",),
        ("inputs", 0),
        ("inputs", 0, "name"),
        ("inputs", 0, "datatype"),
        ("inputs", 0, "shape"),
        ("inputs", 0, "shape", 0),
        ("inputs", 0, "parameters"),
        ("inputs", 0, "parameters", "binary_data_size"),
        ("inputs", 0, "data"),
        ("outputs",),
        ("outputs", 0),
        ("outputs", 0, "name"),
        ("outputs", 0, "parameters"),
        ("outputs", 0, "parameters", "binary_data"),
        ("outputs", 0, "parameters", "classification"),
    ]
    seen = set()
    for path in paths:
        for value in VALUES:
            head = json.loads(json.dumps(good))
            *parents, last = path
            target = head
            for key in parents:
                target = target[key]
            target[last] = value
            encoded = json.dumps(head).encode()
            seen.add(outcome(encoded + GOOD, str(len(encoded))))
    assert seen == {"ok", "bad request"}


def test_codec_random_damage(configure):
    configure()
    body, [(_, declared)] = binary_request(elements(CHELSEA_JPEG[:2000], COFFEE_JPEG[:1000]), shape=[2])
    assert outcome(body, declared) == "ok"
    rng = np.random.default_rng(5)
    head_length = int(declared)
    for _ in range(3000):
        damaged = bytearray(body)
        for at in rng.integers(0, head_length + 12, rng.integers(1, 4)):  # the head and the first lengths
            damaged[at] = rng.integers(0, 256)
        outcome(bytes(damaged), declared)
    for cut in range(0, len(body), 37):
        assert outcome(body[:cut], declared if cut >= head_length else None) == "bad request"
