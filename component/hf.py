"""POST /: Hugging Face's Inference API contract for image classification, so that clients
written for it (huggingface_hub's InferenceClient(model=URL).image_classification, the JS
@huggingface/inference, plain curl against an Inference Endpoint) work unchanged.

    raw image bytes as the body                              -> [{"label", "score"}], best first
    application/json {"inputs": base64 or a data: URL,
                      "parameters": {"top_k": N,
                                     "function_to_apply": "softmax" | "sigmoid" | "none"}}

huggingface_hub sends the raw bytes when there are no parameters, the JSON otherwise. top_k
defaults to the default_top_k setting; function_to_apply to "softmax" (the probabilities that
/predict gives), "sigmoid" and "none" apply to the model's outputs (logits for the default
model). Errors are /predict's: {"error"} with 400 (malformed JSON, a bad parameter, not base64,
not an image), 413, 415, 422.
"""

import base64
import binascii

import instance
import settings
from errors import BadRequest
from oip_codec import expect, split
from web import json_response

FUNCTIONS = ("softmax", "sigmoid", "none")
PARAMETERS = ("top_k", "function_to_apply")


def is_json(content_type):
    media = (content_type or "").split(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def decode_inputs(inputs):
    """The "inputs" string -> the image's bytes: base64, bare or as a data: URL."""
    expect(inputs, str, '"inputs" (the image in base64, or a data: URL)')
    if inputs.startswith("data:"):
        header, comma, inputs = inputs.partition(",")
        if not comma or not header.endswith(";base64"):
            raise BadRequest('"inputs" is a data: URL without ";base64,": send the image in base64')
    try:
        return base64.b64decode(inputs, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest('"inputs" is not base64 (send the image in base64, or as the raw body)') from None


def read_parameters(parameters):
    """The "parameters" object -> (top_k, function_to_apply)."""
    expect(parameters, dict, '"parameters"')
    unknown = sorted(set(parameters) - set(PARAMETERS))
    if unknown:
        raise BadRequest(f"unknown parameter {unknown[0]!r}; image classification takes {', '.join(PARAMETERS)}")
    top_k = parameters.get("top_k")
    top_k = settings.get().default_top_k if top_k is None else expect(top_k, int, '"top_k"')
    if top_k < 1:
        raise BadRequest(f'"top_k" must be a positive integer, got {top_k}')
    function = parameters.get("function_to_apply")
    function = "softmax" if function is None else expect(function, str, '"function_to_apply"')
    if function not in FUNCTIONS:
        raise BadRequest(f'"function_to_apply" must be one of {", ".join(FUNCTIONS)}, got {function[:40]!r}')
    return top_k, function


def read_request(body, content_type):
    """The body -> (image bytes, top_k, function_to_apply)."""
    if not is_json(content_type):
        if not body:
            raise BadRequest('empty body: send the image as the body, or JSON {"inputs": base64}')
        return bytes(body), settings.get().default_top_k, "softmax"
    request, _ = split(body, None)
    expect(request, dict, "the request")
    if "inputs" not in request:
        raise BadRequest('the request has no "inputs" (the image in base64)')
    extra = sorted(set(request) - {"inputs", "parameters"})
    if extra:
        raise BadRequest(f"unknown field {extra[0]!r}; the request takes inputs and parameters")
    parameters = request.get("parameters")
    return (decode_inputs(request["inputs"]), *read_parameters({} if parameters is None else parameters))


def classify(request):
    body = request.read_body(settings.get().max_body_bytes)
    image, top_k, function = read_request(body, request.header("content-type"))
    loaded = instance.get()
    [scores], _ = loaded.score_batch([image], function)
    if isinstance(scores, Exception):
        raise scores
    ranked = loaded.rank(scores, min(top_k, loaded.num_classes))
    return json_response(200, [{"label": p["label"], "score": p["score"]} for p in ranked])
