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
from componentize_py_types import Err, Ok
from wit_world.exports import classify as wit
from wit_world.imports import streams
from wit_world.imports.wasi_http_types import (
    Fields, IncomingRequest, Method_Delete, Method_Get, Method_Head, Method_Options, Method_Other,
    Method_Patch, Method_Post, Method_Put, OutgoingBody, OutgoingResponse, ResponseOutparam,
)

Image.init()

METHODS = {Method_Get: "GET", Method_Head: "HEAD", Method_Post: "POST", Method_Put: "PUT",
           Method_Delete: "DELETE", Method_Options: "OPTIONS", Method_Patch: "PATCH"}
READ_CHUNK = 64 * 1024
WRITE_CHUNK = 4096  # the most blocking-write-and-flush takes at once


def method_name(method):
    return method.value if isinstance(method, Method_Other) else METHODS.get(type(method), "OTHER")


def read_body(request: IncomingRequest, limit):
    """The whole request body, refusing (413) as soon as it is known to exceed `limit`."""
    declared = request.headers().get("content-length")
    if declared and declared[0].isdigit() and int(declared[0]) > limit:
        raise api.BodyTooLarge(limit)
    body = request.consume()
    stream = body.stream()
    chunks, size = [], 0
    try:
        while True:
            try:
                chunk = stream.blocking_read(READ_CHUNK)
            except Err as e:
                if isinstance(e.value, streams.StreamError_Closed):
                    break
                raise
            size += len(chunk)
            if size > limit:
                raise api.BodyTooLarge(limit)
            chunks.append(chunk)
    finally:
        stream.__exit__(None, None, None)
    return b"".join(chunks)


def send(response_out: ResponseOutparam, response: api.Response):
    headers = [("content-type", response.content_type.encode()),
               ("content-length", str(len(response.body)).encode())]
    headers += [(k, v.encode()) for k, v in response.headers]
    outgoing = OutgoingResponse(Fields.from_list(headers))
    outgoing.set_status_code(response.status)
    body = outgoing.body()
    ResponseOutparam.set(response_out, Ok(outgoing))
    stream = body.write()
    for start in range(0, len(response.body), WRITE_CHUNK):
        stream.blocking_write_and_flush(response.body[start:start + WRITE_CHUNK])
    stream.__exit__(None, None, None)
    OutgoingBody.finish(body, None)


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
