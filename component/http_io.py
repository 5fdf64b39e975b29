"""wasi:http@0.2.0 plumbing: an incoming request as an api.Request, an api.Response written
back. No routing here (api.py).

One request per instance, so reads wait with `wasi:io/poll` and writes block. Whatever the
client does (stops sending, sends less than it declared, hangs up before the answer), the
request ends with an answer or quietly: an exception escaping the handler would trap the
instance. Pollables are dropped before the streams they watch (the host refuses otherwise).
"""

from componentize_py_types import Err, Ok
from wit_world.imports import monotonic_clock, poll, streams
from wit_world.imports.wasi_http_types import (
    Fields,
    IncomingRequest,
    Method_Connect,
    Method_Delete,
    Method_Get,
    Method_Head,
    Method_Options,
    Method_Other,
    Method_Patch,
    Method_Post,
    Method_Put,
    Method_Trace,
    OutgoingBody,
    OutgoingResponse,
    ResponseOutparam,
)

import api
import errors
import settings
from web import decimal

METHODS = {
    Method_Get: "GET",
    Method_Head: "HEAD",
    Method_Post: "POST",
    Method_Put: "PUT",
    Method_Delete: "DELETE",
    Method_Connect: "CONNECT",
    Method_Options: "OPTIONS",
    Method_Trace: "TRACE",
    Method_Patch: "PATCH",
}
READ_CHUNK = 64 * 1024
WRITE_CHUNK = 4096  # the most blocking-write-and-flush takes at once


def incoming_request(request: IncomingRequest):
    method = request.method()
    headers = {}
    for name, value in request.headers().entries():
        headers.setdefault(name.lower(), []).append(value.decode("latin-1"))
    return api.Request(
        method.value if isinstance(method, Method_Other) else METHODS[type(method)],
        request.path_with_query() or "/",
        headers,
        lambda limit: read_body(request, headers, limit),
    )


def declared_length(headers):
    values = headers.get("content-length", [])
    return decimal(values[0]) if values else None


def read_body(request: IncomingRequest, headers, limit):
    """The whole body; BodyTooLarge (413) once it is known to exceed `limit`, HttpError 408 if
    it does not arrive within the body_seconds setting, BadRequest if the client ends it early."""
    declared = declared_length(headers)
    if (
        declared is not None
        and declared > limit
        and (declared > settings.DRAIN_BYTES or "100-continue" in headers.get("expect", [""])[0].lower())
    ):
        # Refused before the body is sent: a client that waits for 100 Continue stops here.
        raise api.BodyTooLarge(limit)
    seconds = settings.get().body_seconds
    body = _Body(request, seconds)
    chunks, size = [], 0
    try:
        while (chunk := body.read()) is not None:
            size += len(chunk)
            if size > limit:
                # Read on (and drop) what is still coming, so that clients that send the whole
                # body before they read the answer see the 413 instead of a reset connection.
                # Read, not input-stream.skip: preview2-shim 0.26.1 (jco) returns skip's bytes
                # instead of their count, which traps the instance; a read is one copy a chunk.
                while size < settings.DRAIN_BYTES and (chunk := body.read()) is not None:
                    size += len(chunk)
                raise api.BodyTooLarge(limit)
            chunks.append(chunk)
        return b"".join(chunks)
    except _TimedOut:
        if size > limit:
            raise api.BodyTooLarge(limit) from None
        raise api.HttpError(408, f"the request body did not arrive within {seconds:g} s") from None
    finally:
        body.close()


class _TimedOut(Exception):
    pass


class _Body:
    """An incoming body's stream, read with a deadline."""

    def __init__(self, request, seconds):
        self.body = request.consume()
        self.stream = self.body.stream()
        self.ready = self.stream.subscribe()
        self.timer = monotonic_clock.subscribe_duration(int(seconds * 1e9))

    def read(self):
        """The next bytes, None at the end of the body."""
        return self._next(lambda: self.stream.read(READ_CHUNK))

    def _next(self, take):
        while True:
            try:
                got = take()
            except Err as e:
                if isinstance(e.value, streams.StreamError_Closed):
                    return None
                # e.g. fewer bytes than Content-Length, then the client closed its side
                raise errors.BadRequest(
                    "the request body ended early or could not be read (fewer bytes than its Content-Length?)"
                ) from None
            if got:
                return got
            if poll.poll([self.ready, self.timer]) == [1]:
                raise _TimedOut

    def close(self):
        for resource in (self.timer, self.ready, self.stream, self.body):  # children first
            resource.__exit__(None, None, None)


def send(response_out: ResponseOutparam, response: api.Response):
    """Writes the answer; a client gone meanwhile ends the request quietly."""
    # A 204 has neither (RFC 9110 forbids its Content-Length).
    headers = (
        []
        if response.status == 204
        else [("content-type", response.content_type.encode()), ("content-length", str(len(response.body)).encode())]
    )
    headers += [(k, v.encode()) for k, v in response.headers]
    outgoing = OutgoingResponse(Fields.from_list(headers))
    outgoing.set_status_code(response.status)
    body = outgoing.body()
    ResponseOutparam.set(response_out, Ok(outgoing))
    stream = body.write()
    try:
        data = response.body if response.send_body else b""
        for start in range(0, len(data), WRITE_CHUNK):
            stream.blocking_write_and_flush(data[start : start + WRITE_CHUNK])
    except Err:  # the connection is gone: nobody is left to answer
        pass
    finally:
        stream.__exit__(None, None, None)
    try:
        OutgoingBody.finish(body, None)
    except Err:
        pass
