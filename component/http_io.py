"""wasi:http@0.2.0 plumbing: read a request body, write a response. No routing here (api.py).

Blocking reads and writes keep this simple: one request per instance, nothing to interleave.
"""
from componentize_py_types import Err, Ok
from wit_world.imports import streams
from wit_world.imports.wasi_http_types import (
    Fields, IncomingRequest, Method_Delete, Method_Get, Method_Head, Method_Options, Method_Other,
    Method_Patch, Method_Post, Method_Put, OutgoingBody, OutgoingResponse, ResponseOutparam,
)

import api

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
