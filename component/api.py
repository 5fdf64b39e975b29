"""The HTTP API, free of wasi: (method, path, body reader) -> Response.

    POST /predict[?top_k=N]  raw image bytes -> {"model", "predictions", "timings_ms"}
    GET  /model              what model/sha256/op counts this instance serves
    GET  /healthz            liveness, without loading the model
    GET  /                   a page to drop an image on

Errors are JSON {"error": ...}: 400 bad request or undecodable image, 404 unknown route,
405 wrong method, 413 body over MAX_BODY_BYTES, 422 image over the pixel limit, 503 model
unavailable. A 500 is a bug: the body says only that, the traceback goes to stderr.
"""
import json
import sys
import time
import traceback
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import classifier
import page
import preprocess

MAX_BODY_BYTES = 10 * 1024 * 1024
INDEX_PAGE = page.INDEX_HTML.encode()  # encoded once, at build time
DEFAULT_TOP_K = 5


class HttpError(Exception):
    def __init__(self, status, message, headers=()):
        super().__init__(message)
        self.status = status
        self.headers = list(headers)


class BodyTooLarge(HttpError):
    def __init__(self, limit):
        super().__init__(413, f"request body is over the {limit // (1024 * 1024)} MiB limit")


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: list = field(default_factory=list)


def json_response(status, obj, headers=()):
    return Response(status, json.dumps(obj).encode(), headers=list(headers))


def index(query, read_body):
    return Response(200, INDEX_PAGE, "text/html; charset=utf-8")


def healthz(query, read_body):
    return json_response(200, {"status": "ok"})


def model_info(query, read_body):
    return json_response(200, load_classifier().info())


def predict(query, read_body):
    started = time.perf_counter()
    top_k = parse_top_k(query)
    data = read_body(MAX_BODY_BYTES)
    if not data:
        raise HttpError(400, "empty body: send the image file as the request body")
    loaded = load_classifier()
    try:
        predictions, timings = loaded.classify(data, min(top_k, loaded.num_classes))
    except preprocess.ImageTooLarge as e:
        raise HttpError(422, str(e)) from None
    except preprocess.BadImage as e:
        raise HttpError(400, str(e)) from None
    timings["total"] = (time.perf_counter() - started) * 1000
    return json_response(200, {
        "model": loaded.name,
        "predictions": predictions,
        "timings_ms": {k: round(v, 2) for k, v in timings.items()},
    })


def parse_top_k(query):
    values = parse_qs(query).get("top_k", [str(DEFAULT_TOP_K)])
    try:
        top_k = int(values[-1])
    except ValueError:
        top_k = 0
    if top_k < 1:
        raise HttpError(400, f"top_k must be a positive integer, got {values[-1]!r}")
    return top_k


def load_classifier():
    try:
        return classifier.get()
    except classifier.ModelUnavailable as e:
        raise HttpError(503, str(e)) from None


ROUTES = {
    "/": {"GET": index},
    "/healthz": {"GET": healthz},
    "/model": {"GET": model_info},
    "/predict": {"POST": predict},
}


def handle(method, path_with_query, read_body):
    """Routes one request. `read_body(limit)` returns the body or raises BodyTooLarge."""
    url = urlsplit(path_with_query)
    try:
        methods = ROUTES.get(url.path)
        if methods is None:
            raise HttpError(404, f"no route {url.path}; try POST /predict, GET /model or GET /")
        if method not in methods:
            allowed = ", ".join(methods)
            raise HttpError(405, f"{method} is not allowed on {url.path}; use {allowed}", [("allow", allowed)])
        return methods[method](url.query, read_body)
    except HttpError as e:
        return json_response(e.status, {"error": str(e)}, e.headers)
    except Exception:
        print(f"500 on {method} {url.path}:\n{traceback.format_exc()}", file=sys.stderr)
        return json_response(500, {"error": "internal error (details in the server log)"})
