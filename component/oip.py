"""The Open Inference Protocol v2 (KServe, Triton, OpenVINO Model Server REST), beside the own API.

    GET  /v2                                    server metadata (extensions: binary_tensor_data, classification)
    GET  /v2/health/live, /v2/health/ready      200 when live / when the model loads (else 503)
    GET  /v2/models/{name}[/versions/1]         model metadata
    GET  /v2/models/{name}[/versions/1]/ready
    POST /v2/models/{name}[/versions/1]/infer

{name} is the model's name (GET /model), its only version "1". As clients see the model: input
"image", BYTES [N] (N encoded images, one batch, as OpenVINO Model Server takes them); output
"probabilities", FP32 [N, classes]. The request and answer bodies are oip_codec.py's.

Errors are {"error": "..."}: 400 for a malformed request (oip_codec), 404 for another model name
or version, and an image that does not decode fails the whole request with its element named,
with the status errors.policy gives (400 not an image, 415 unsupported format, 422 too large).
"""

import numpy as np

import instance
import oip_codec
import settings
from errors import BadRequest
from web import HttpError, echo, json_response

VERSION = "1"
# The server's version is the typed interface's (wit/classifier.wit, imgcls:classifier@0.2.0).
SERVER = {"name": "image-classifier", "version": "0.2.0", "extensions": ["binary_tensor_data", "classification"]}


def model_of(request):
    """The classifier the path names ({name}, optional {version}); 404 for any other."""
    loaded = instance.get()
    name, version = request.params["name"], request.params.get("version", VERSION)
    if name != loaded.name:
        raise HttpError(404, f"unknown model {echo(name)}; this server serves {loaded.name!r}")
    if version != VERSION:
        raise HttpError(404, f"model {loaded.name!r} has no version {echo(version)}; its only version is {VERSION!r}")
    return loaded


def server_metadata(request):
    return json_response(200, SERVER)


def live(request):
    return json_response(200, {"live": True})


def ready(request):
    instance.get()  # a model that does not load: 503 (errors.policy)
    return json_response(200, {"ready": True})


def model_metadata(request):
    loaded = model_of(request)
    return json_response(
        200,
        {
            "name": loaded.name,
            "versions": [VERSION],
            "platform": "onnx",
            "inputs": [{"name": oip_codec.INPUT, "datatype": "BYTES", "shape": [-1]}],
            "outputs": [{"name": oip_codec.OUTPUT, "datatype": "FP32", "shape": [-1, loaded.num_classes]}],
        },
    )


def model_ready(request):
    return json_response(200, {"name": model_of(request).name, "ready": True})


def infer(request):
    # The body first, whatever the answer: clients that send it all before they read (urllib,
    # tritonclient) would otherwise meet a closed connection instead of a 404.
    body = request.read_body(settings.get().max_body_bytes)
    loaded = model_of(request)
    encoding = request.header("content-encoding")
    if encoding not in (None, "identity"):
        raise HttpError(415, f"Content-Encoding {echo(encoding)} is not supported: send the body uncompressed")
    lengths = request.headers.get("inference-header-content-length", [])
    if len(lengths) > 1:
        raise BadRequest("Inference-Header-Content-Length is given more than once")
    call = oip_codec.read_request(body, lengths[0] if lengths else None, settings.get().max_batch)
    scores, _ = loaded.score_batch(call.images)
    for i, result in enumerate(scores):
        if isinstance(result, Exception):  # the whole request fails, naming the element
            result.args = (f"input {oip_codec.INPUT!r} element {i} of {len(scores)}: {result}",)
            raise result
    return oip_codec.answer(call, loaded, np.stack(scores).astype(np.float32), VERSION)


VERSIONED = ("", "/versions/{version}")  # each model route, with and without the version
ROUTES = {
    "/v2": {"GET": server_metadata},
    "/v2/health/live": {"GET": live},
    "/v2/health/ready": {"GET": ready},
    **{f"/v2/models/{{name}}{v}": {"GET": model_metadata} for v in VERSIONED},
    **{f"/v2/models/{{name}}{v}/ready": {"GET": model_ready} for v in VERSIONED},
    **{f"/v2/models/{{name}}{v}/infer": {"POST": infer} for v in VERSIONED},
}
