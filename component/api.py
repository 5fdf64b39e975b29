"""The HTTP API, free of wasi: Request -> Response.

    POST /predict[?top_k=N]  raw image bytes -> {"model", "predictions", "timings_ms"}
    GET  /model              what model/sha256/op counts this instance serves
    GET  /healthz            liveness, without loading the model
    GET  /                   a page to drop an image on

HEAD is answered as GET without the body wherever GET is (RFC 9110). Every answer carries an
`x-request-id`: the client's own when it sent a usable one, else a fresh one.

Errors are JSON {"error": ...}: the status errors.POLICY gives the failure (400 bad request or
undecodable image, 415 known but unsupported format, 422 image over the pixel limit, 503 model
unavailable or out of memory), or an HttpError's own: 404 unknown route, 405 wrong method
(with Allow), 408 body not received in time, 413 body over settings.MAX_BODY_BYTES. A 500 is a
bug: the body says only that, the traceback goes to stderr with the request id.
"""
import json
import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import parse_qs, unquote

import classifier
import errors
import page
import settings

INDEX_PAGE = page.INDEX_HTML.encode()  # encoded once, at build time
MAX_ECHO = 80  # characters of a client's path or method quoted back in an error


class HttpError(Exception):
    def __init__(self, status, message, headers=()):
        super().__init__(message)
        self.status = status
        self.headers = list(headers)


class BodyTooLarge(HttpError):
    def __init__(self, limit):
        super().__init__(413, f"request body is over the {limit // (1024 * 1024)} MiB limit")


@dataclass
class Request:
    method: str                      # "GET", "POST", ... as sent
    target: str                      # path and query, as sent
    headers: dict                    # lower-case name -> list of values (str)
    read_body: Callable[[int], bytes] = lambda limit: b""  # (limit) -> the whole body
    path: str = field(init=False)    # percent-decoded, repeated slashes merged
    query: str = field(init=False)
    params: dict = field(default_factory=dict)  # what the route pattern matched
    id: str = field(init=False)

    def __post_init__(self):
        path, _, self.query = self.target.partition("?")
        self.path = "/" + "/".join(unquote(s) for s in path.split("/") if s)
        self.id = request_id(self.header("x-request-id"))

    def header(self, name):
        """The first value of a header, or None."""
        values = self.headers.get(name)
        return values[0] if values else None


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: list = field(default_factory=list)
    send_body: bool = True  # False for HEAD: the headers describe the body not sent


def json_response(status, obj, headers=()):
    return Response(status, json.dumps(obj).encode(), headers=list(headers))


def request_id(given):
    """The client's x-request-id if it is short printable ASCII, else 32 random hex digits."""
    if given and len(given) <= 128 and given.isascii() and given.isprintable():
        return given
    return os.urandom(16).hex()


def echo(text):
    """A client's text quoted in a message, cut to MAX_ECHO characters."""
    return repr(text if len(text) <= MAX_ECHO else text[:MAX_ECHO] + "...")


def index(request):
    return Response(200, INDEX_PAGE, "text/html; charset=utf-8")


def healthz(request):
    return json_response(200, {"status": "ok"})


def model_info(request):
    return json_response(200, classifier.get().info())


def predict(request):
    started = time.perf_counter()
    top_k = parse_top_k(request.query)
    data = request.read_body(settings.MAX_BODY_BYTES)
    if not data:
        raise errors.BadRequest("empty body: send the image file as the request body")
    loaded = classifier.get()
    predictions, timings = loaded.classify(data, top_k)
    timings["total"] = (time.perf_counter() - started) * 1000
    return json_response(200, {
        "model": loaded.name,
        "predictions": predictions,
        "timings_ms": {k: round(v, 2) for k, v in timings.items()},
    })


def parse_top_k(query):
    """The top_k query parameter (the last one given), or the default."""
    values = parse_qs(query).get("top_k")
    if not values:
        return settings.DEFAULT_TOP_K
    try:
        return int(values[-1])
    except ValueError:
        raise errors.BadRequest(f"top_k must be a positive integer, got {echo(values[-1])}") from None


ROUTES = {
    "/": {"GET": index},
    "/healthz": {"GET": healthz},
    "/model": {"GET": model_info},
    "/predict": {"POST": predict},
}
# Segments written {name} match any one segment, given to the handler in request.params.
PATTERNS = [(route.strip("/").split("/"), methods) for route, methods in ROUTES.items() if "{" in route]


def route(request):
    """The methods of the route the request's path names, filling request.params."""
    if request.path in ROUTES:
        return ROUTES[request.path]
    segments = request.path.strip("/").split("/")
    for pattern, methods in PATTERNS:
        if len(pattern) == len(segments) and all(p[0] == "{" or p == s for p, s in zip(pattern, segments)):
            request.params = {p.strip("{}"): s for p, s in zip(pattern, segments) if p[0] == "{"}
            return methods
    raise HttpError(404, f"no route {echo(request.path)}; try POST /predict, GET /model or GET /")


def allowed(methods):
    return ", ".join([*methods, "HEAD"] if "GET" in methods else methods)


def dispatch(request):
    methods = route(request)
    method = "GET" if request.method == "HEAD" and "GET" in methods else request.method
    if method not in methods:
        raise HttpError(405, f"{echo(request.method)} is not allowed on {echo(request.path)}; use {allowed(methods)}",
                        [("allow", allowed(methods))])
    return methods[method](request)


def handle(request):
    """Answers one request; never raises."""
    try:
        response = dispatch(request)
    except HttpError as e:
        response = json_response(e.status, {"error": str(e)}, e.headers)
    except Exception as e:
        status, _, message = errors.policy(e)
        if status == 500:
            print(f"500 on {request.method} {request.path[:200]} (request {request.id}):\n{traceback.format_exc()}",
                  file=sys.stderr)
            message = f"internal error (details in the server log, request {request.id})"
        response = json_response(status, {"error": message})
    response.headers.append(("x-request-id", request.id))
    response.send_body = request.method != "HEAD"
    return response
