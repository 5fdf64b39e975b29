"""Open Inference Protocol v2 bodies of this model: an inference request read, its answer written.

Request: a JSON object (the head), optionally followed by binary tensor data (Triton's binary
tensor data extension, which tritonclient uses by default): the header
Inference-Header-Content-Length gives the head's length in bytes, the input's
parameters.binary_data_size the bytes it takes after the head, and there each BYTES element is a
4-byte little-endian length and its bytes. In a plain JSON request the elements of "data" are
base64 strings: JSON strings carry text and an encoded image is not text (tritonclient refuses
non-UTF-8 bytes in JSON; Triton would take a string's UTF-8 bytes as they are); KServe's and
OpenVINO Model Server's JSON image examples send base64 too.

Everything a client declares is checked against what it sent: the head's length and
binary_data_size against the body, each element's length against what remains, the number of
elements against the shape (and the max_batch setting, which oip.py passes). Any mismatch, a wrong name, datatype or
shape, a JSON head that does not parse, or what this server does not implement (shared memory)
is errors.BadRequest saying which.

Answer: "probabilities" FP32 [N, classes] or, with the classification extension
(`"parameters": {"classification": k}` on the requested output), BYTES [N, k] of
"probability:index:label" strings, best first (a k above the class count gives them all). An
output is binary when its parameters.binary_data says so (default: the request's
parameters.binary_data_output, default false); the body is then the JSON head followed by the
binary data, and Inference-Header-Content-Length gives the head's length. "id" is echoed.
"""

import base64
import binascii
import json
from dataclasses import dataclass

import limits
from errors import BadRequest
from web import Response, decimal, echo

INPUT, OUTPUT = "image", "probabilities"
# Arrays and objects in one JSON head. A request for this model has a handful; the limit keeps
# the nesting shallow, since json's C parser (and encoder) recurse per level and a few thousand
# levels exhaust the wasm call stack: a trap, not an exception. Counting them (in strings too)
# bounds the depth in linear time, before parsing.
MAX_BRACKETS = 64
KINDS = {dict: "an object", list: "an array", str: "a string", bool: "true or false", int: "an integer"}


@dataclass
class Output:
    binary: bool
    classes: int  # 0: the probabilities; k > 0: the top k as classification strings


@dataclass
class Call:
    id: str | None
    images: list  # encoded images (bytes)
    output: Output


def shown(value):
    return echo(json.dumps(value))


def expect(value, kind, what):
    """`value` if it is a JSON `kind` (true and false are not integers here), else BadRequest."""
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise BadRequest(f"{what} must be {KINDS[kind]}, got {shown(value)}")
    return value


def split(body, declared):
    """The body -> (its JSON head parsed, the binary data after it as a memoryview)."""
    if declared is None:
        head, binary = body, memoryview(b"")
    else:
        length = decimal(declared)
        if length is None:
            raise BadRequest(f"Inference-Header-Content-Length must be a number of bytes, got {echo(declared)}")
        if length > len(body):
            raise BadRequest(f"Inference-Header-Content-Length is {declared}, but the body has {len(body)} bytes")
        head, binary = body[:length], memoryview(body)[length:]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        hint = "" if declared is not None else " (binary data after it needs an Inference-Header-Content-Length header)"
        raise BadRequest(f"the inference request's JSON is not UTF-8{hint}") from None
    if text.count("[") + text.count("{") > MAX_BRACKETS:
        raise BadRequest(f"the inference request's JSON has more than {MAX_BRACKETS} arrays and objects")
    try:
        return json.loads(text), binary
    except (ValueError, RecursionError) as e:
        raise BadRequest(f"the inference request's JSON does not parse: {echo(str(e))}") from None


def binary_elements(data, count):
    """BYTES elements serialized as (4-byte little-endian length, bytes)..., exactly `count`."""
    elements, pos = [], 0
    while pos < len(data):
        if len(elements) == count:
            raise BadRequest(f"the binary data of input {INPUT!r} holds more than the {count} elements of its shape")
        if pos + 4 > len(data):
            raise BadRequest(f"element {len(elements)} of input {INPUT!r}: its 4-byte length is cut off")
        size = int.from_bytes(data[pos : pos + 4], "little")
        pos += 4
        if size > len(data) - pos:
            raise BadRequest(
                f"element {len(elements)} of input {INPUT!r} declares {size} bytes; "
                f"{len(data) - pos} remain in its binary data"
            )
        elements.append(bytes(data[pos : pos + size]))
        pos += size
    if len(elements) != count:
        raise BadRequest(f"input {INPUT!r} has shape [{count}], but its binary data holds {len(elements)} elements")
    return elements


def json_elements(data, count):
    """The "data" of a JSON request: `count` base64 strings -> bytes."""
    expect(data, list, f"the data of input {INPUT!r} (base64 strings, or binary data after the JSON)")
    if len(data) != count:
        raise BadRequest(f"input {INPUT!r} has shape [{count}], but its data holds {len(data)} elements")
    images = []
    for i, item in enumerate(data):
        expect(item, str, f"element {i} of input {INPUT!r} (an encoded image in base64)")
        try:
            images.append(base64.b64decode(item, validate=True))
        except (binascii.Error, ValueError):
            raise BadRequest(
                f"element {i} of input {INPUT!r} is not base64 (an encoded image in base64 is expected)"
            ) from None
    return images


def read_images(inputs, binary, declared, max_batch):
    if len(expect(inputs, list, '"inputs"')) != 1:
        raise BadRequest(f"the model has one input, {INPUT!r}; the request gives {len(inputs)}")
    tensor = expect(inputs[0], dict, "an input")
    if tensor.get("name") != INPUT:
        raise BadRequest(f"unknown input {shown(tensor.get('name'))}; the model's input is {INPUT!r} (BYTES [N])")
    if tensor.get("datatype") != "BYTES":
        raise BadRequest(f"input {INPUT!r} is BYTES (encoded images), not {shown(tensor.get('datatype'))}")
    shape = expect(tensor.get("shape"), list, f"the shape of input {INPUT!r}")
    if len(shape) != 1 or not isinstance(shape[0], int) or isinstance(shape[0], bool) or shape[0] < 0:
        raise BadRequest(f"input {INPUT!r} has shape {shown(shape)}; send [N] for N encoded images")
    limits.check_batch(shape[0], max_batch)
    params = expect(tensor.get("parameters", {}), dict, f"the parameters of input {INPUT!r}")
    if "shared_memory_region" in params:
        raise BadRequest("shared memory is not supported: send the images in the request")
    size = params.get("binary_data_size")
    if size is None:
        if binary:
            raise BadRequest(f"{len(binary)} bytes follow the JSON, but input {INPUT!r} has no binary_data_size")
        return json_elements(tensor.get("data"), shape[0])
    if "data" in tensor:
        raise BadRequest(f"input {INPUT!r} has both data and binary_data_size")
    if expect(size, int, "binary_data_size") != len(binary):
        missing = "" if declared is not None else " (no Inference-Header-Content-Length header)"
        raise BadRequest(
            f"binary_data_size of input {INPUT!r} is {size}, but {len(binary)} bytes follow the JSON{missing}"
        )
    return binary_elements(binary, shape[0])


def read_output(outputs, binary_default):
    if outputs is None or outputs == []:
        return Output(binary_default, 0)
    if len(expect(outputs, list, '"outputs"')) != 1:
        raise BadRequest(f"the model has one output, {OUTPUT!r}; the request asks for {len(outputs)}")
    spec = expect(outputs[0], dict, "a requested output")
    if spec.get("name") != OUTPUT:
        raise BadRequest(f"unknown output {shown(spec.get('name'))}; the model's output is {OUTPUT!r}")
    params = expect(spec.get("parameters", {}), dict, f"the parameters of output {OUTPUT!r}")
    if "shared_memory_region" in params:
        raise BadRequest("shared memory is not supported: outputs come in the answer")
    classes = expect(params.get("classification", 0), int, "classification")
    if classes < 0:
        raise BadRequest(f"classification must be a number of classes, got {classes}")
    return Output(expect(params.get("binary_data", binary_default), bool, "binary_data"), classes)


def read_request(body, declared, max_batch):
    """An inference request's body (and its Inference-Header-Content-Length, or None) -> Call;
    BadRequest for more than max_batch images."""
    head, binary = split(body, declared)
    expect(head, dict, "the inference request")
    if "id" in head:
        expect(head["id"], str, '"id"')
    params = expect(head.get("parameters", {}), dict, '"parameters"')
    binary_default = expect(params.get("binary_data_output", False), bool, "binary_data_output")
    return Call(
        head.get("id"),
        read_images(head.get("inputs"), binary, declared, max_batch),
        read_output(head.get("outputs"), binary_default),
    )


def serialize(texts):
    """BYTES elements as binary tensor data: (4-byte little-endian length, bytes)..."""
    return b"".join(len(b).to_bytes(4, "little") + b for b in (t.encode() for t in texts))


def answer(call, loaded, probabilities, version):
    """The inference answer for (N, classes) float32 probabilities of `loaded`'s model."""
    n = len(probabilities)
    if call.output.classes:
        k = min(call.output.classes, loaded.num_classes)
        texts = [f"{p['score']:f}:{p['index']}:{p['label']}" for row in probabilities for p in loaded.rank(row, k)]
        tensor = {"name": OUTPUT, "datatype": "BYTES", "shape": [n, k]}
        data = serialize(texts) if call.output.binary else texts
    else:
        tensor = {"name": OUTPUT, "datatype": "FP32", "shape": [n, loaded.num_classes]}
        data = probabilities.astype("<f4").tobytes() if call.output.binary else probabilities.ravel().tolist()
    if call.output.binary:
        tensor["parameters"] = {"binary_data_size": len(data)}
    else:
        tensor["data"] = data
    head = {"model_name": loaded.name, "model_version": version, "outputs": [tensor]}
    if call.id is not None:
        head = {"id": call.id, **head}
    encoded = json.dumps(head).encode()
    if not call.output.binary:
        return Response(200, encoded)
    return Response(
        200, encoded + data, "application/octet-stream", [("inference-header-content-length", str(len(encoded)))]
    )
