"""What every HTTP handler shares, free of wasi: the Request, the Response, HttpError.

http_io.py turns wasi:http requests into Request and writes Response back; api.py routes; the
protocol modules (oip.py, multipart.py, cors.py) build on these types.
"""

import json
import os
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import unquote

MAX_ECHO = 80  # characters of a client's path, method or name quoted back in an error


class HttpError(Exception):
    """A failure with its own HTTP status (404, 405, 408, 413...); errors.policy reads it."""

    def __init__(self, status, message, headers=()):
        super().__init__(message)
        self.status = status
        self.headers = list(headers)


class BodyTooLarge(HttpError):
    def __init__(self, limit):
        super().__init__(413, f"request body is over the {limit / (1024 * 1024):g} MiB limit")


@dataclass
class Request:
    method: str  # "GET", "POST", ... as sent
    target: str  # path and query, as sent
    headers: dict  # lower-case name -> list of values (str)
    read_body: Callable[[int], bytes] = lambda limit: b""  # (limit) -> the whole body
    path: str = field(init=False)  # percent-decoded, repeated slashes merged
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


def decimal(text):
    """The value of a decimal integer header or setting ("42"), or None: ASCII digits only, since
    str.isdigit also accepts "²" and "١٢", which int() refuses or reads as 12."""
    return int(text) if text and text.isascii() and text.isdigit() else None


def echo(text):
    """A client's text quoted in a message, cut to MAX_ECHO characters."""
    return repr(text if len(text) <= MAX_ECHO else text[:MAX_ECHO] + "...")
