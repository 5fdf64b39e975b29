"""The HTTP API, free of wasi: Request -> Response.

    POST /predict[?top_k=N]  an image (raw body or multipart files) -> predictions (predict.py)
    GET  /model              what model/sha256/op counts this instance serves
    GET  /healthz            liveness, without loading the model
    GET  /                   a page to drop images on
    POST /                   Hugging Face's Inference API image classification (hf.py)
    GET  /openapi.json       the OpenAPI 3.1 document of all of these (openapi.py)
    /v2/...                  the Open Inference Protocol v2 (oip.py)

HEAD is answered as GET without the body wherever GET is (RFC 9110), OPTIONS with the route's
methods (and as a CORS preflight: cors.py, which also adds the CORS headers to every answer).
Every answer carries an `x-request-id`: the client's own when it sent a usable one, else a
fresh one.

Errors are JSON {"error": ...} with the status errors.policy gives the failure (400 bad request
or undecodable image, 415 known but unsupported format, 422 image over the pixel limit, 503 model
unavailable, bad settings or out of memory), or an HttpError's own: 404 unknown route or model,
405 wrong method (with Allow), 408 body not received in time, 413 body over the max_body_bytes
setting. A 500 is a bug: the body says only that, the traceback goes to stderr with the request id.
"""

import sys
import traceback

import instance
import cors
import errors
import hf
import oip
import openapi
import page
import predict

# The shared HTTP types, also reachable from here (http_io, the probe and tests use api.*).
from web import BodyTooLarge, HttpError, Request, Response, echo, json_response  # noqa: F401

INDEX_PAGE = page.INDEX_HTML.encode()  # encoded once, at build time


def index(request):
    return Response(200, INDEX_PAGE, "text/html; charset=utf-8")


def healthz(request):
    return json_response(200, {"status": "ok"})


def model_info(request):
    return json_response(200, instance.get().info())


def openapi_json(request):
    return Response(200, OPENAPI_JSON)


ROUTES = {
    "/": {"GET": index, "POST": hf.classify},
    "/healthz": {"GET": healthz},
    "/model": {"GET": model_info},
    "/predict": {"POST": predict.predict},
    **oip.ROUTES,  # /v2/...: the Open Inference Protocol
    "/openapi.json": {"GET": openapi_json},
}
OPENAPI_JSON = openapi.document(ROUTES)  # once, at build time (the snapshot holds it)
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
    raise HttpError(
        404,
        f"no route {echo(request.path)}; try POST /predict, GET /model, GET / or the Open Inference Protocol under /v2",
    )


def allowed(methods):
    return ", ".join([*methods, *(["HEAD"] if "GET" in methods else []), "OPTIONS"])


def dispatch(request):
    methods = route(request)
    if request.method == "OPTIONS":  # a CORS preflight, or a client asking what the route takes
        return cors.options(request, allowed(methods))
    method = "GET" if request.method == "HEAD" and "GET" in methods else request.method
    if method not in methods:
        raise HttpError(
            405,
            f"{echo(request.method)} is not allowed on {echo(request.path)}; use {allowed(methods)}",
            [("allow", allowed(methods))],
        )
    return methods[method](request)


def handle(request):
    """Answers one request; never raises."""
    extra = []
    try:
        extra = cors.headers(request)  # first: errors reach allowed origins' scripts too
        response = dispatch(request)
    except Exception as e:
        failure = errors.policy(e)
        message = failure.message
        if failure.is_bug:
            print(
                f"500 on {request.method} {echo(request.path)} (request {request.id}):\n{traceback.format_exc()}",
                file=sys.stderr,
            )
            message = f"internal error (details in the server log, request {request.id})"
        response = json_response(failure.status, {"error": message}, failure.headers)
    response.headers += [("x-request-id", request.id), *extra]
    response.send_body = request.method != "HEAD"
    return response
