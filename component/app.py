"""The classifier component: wasi:http requests and typed `classify` calls, both served by
one numpy engine and Pillow, inside the sandbox.

componentize-py imports this module at build time and snapshots the result, so everything the
component will ever run is imported here: numpy's submodules and Pillow's format plugins load
lazily otherwise, and the component has no files to load them from at run time.
"""
import traceback
from contextlib import contextmanager

from PIL import Image

import api
import classifier
import preprocess
import wit_world
from componentize_py_types import Err
from http_io import method_name, read_body, send
from wit_world.exports import classify as wit
from wit_world.imports.wasi_http_types import IncomingRequest, ResponseOutparam

Image.init()


class IncomingHandler(wit_world.exports.IncomingHandler):
    def handle(self, request: IncomingRequest, response_out: ResponseOutparam):
        method = method_name(request.method())
        send(response_out, api.handle(method, request.path_with_query() or "/",
                                      lambda limit: read_body(request, limit)))


@contextmanager
def typed_errors():
    """Maps failures to the interface's error variants: an exception escaping an export would
    trap and kill the instance."""
    try:
        yield
    except classifier.ModelUnavailable as e:
        raise Err(wit.Error_BadModel(str(e)))
    except preprocess.ImageTooLarge as e:
        raise Err(wit.Error_ImageTooLarge(str(e)))
    except preprocess.BadImage as e:
        raise Err(wit.Error_NotAnImage(str(e)))
    except Exception as e:
        traceback.print_exc()
        raise Err(wit.Error_Internal(f"{type(e).__name__}: {e}"))


class Classify(wit_world.exports.Classify):
    def classify(self, image: bytes, top_k: int):
        with typed_errors():
            model = classifier.get()
            predictions, _ = model.classify(image, max(1, min(top_k, model.num_classes)))
            return [wit.Prediction(p["index"], p["label"], p["score"]) for p in predictions]

    def model_info(self):
        with typed_errors():
            info = classifier.get().info()
            return wit.ModelDescription(info["name"], info["input_size"], info["num_classes"],
                                        info["parameters"], info["sha256"], sorted(info["op_counts"].items()))
