"""The classifier component: wasi:http requests and typed `classify` calls, both served by
one ONNX engine (XNNPACK kernels inside, numpy reference) and Pillow, inside the sandbox.

componentize-py imports this module at build time and snapshots the result, so everything the
component will ever run is imported here: numpy's submodules and Pillow's format plugins load
lazily otherwise, and the component has no files to load them from at run time.
"""

import traceback
from contextlib import contextmanager

from PIL import Image

import api
import instance
import errors
import wit_world
from componentize_py_types import Err
from http_io import incoming_request, send
from wit_world.exports import classify as wit
from wit_world.imports.wasi_http_types import IncomingRequest, ResponseOutparam

Image.init()

# The WIT error cases -> the generated variant classes ("not-an-image" -> Error_NotAnImage).
WIT_ERRORS = {case: getattr(wit, "Error_" + case.title().replace("-", "")) for case in errors.WIT_CASES}


class IncomingHandler(wit_world.exports.IncomingHandler):
    def handle(self, request: IncomingRequest, response_out: ResponseOutparam):
        send(response_out, api.handle(incoming_request(request)))


@contextmanager
def typed_errors():
    """Maps failures to the interface's error variants (errors.policy): an exception escaping
    an export would trap and kill the instance."""
    try:
        yield
    except Exception as e:
        failure = errors.policy(e)
        if failure.is_bug:
            traceback.print_exc()
        raise Err(WIT_ERRORS[failure.case](failure.message)) from None


def ranked(image, top_k):
    predictions, _ = instance.get().classify(image, top_k)
    return [wit.Prediction(p["index"], p["label"], p["score"]) for p in predictions]


def read_granted(path):
    """The bytes of a file the host granted; one it cannot read is the caller's mistake."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise errors.BadRequest(f"cannot read {path}: {e.strerror or e}") from None


class Classify(wit_world.exports.Classify):
    def classify(self, image: bytes, top_k: int):
        with typed_errors():
            return ranked(image, top_k)

    def classify_file(self, path: str, top_k: int):
        with typed_errors():
            return ranked(read_granted(path), top_k)

    def model_info(self):
        with typed_errors():
            info = instance.get().info()
            return wit.ModelDescription(
                info["name"],
                info["input_size"],
                info["num_classes"],
                info["parameters"],
                info["sha256"],
                sorted(info["op_counts"].items()),
            )


instance.preload()  # the last thing imported and allocated: see instance.preload
