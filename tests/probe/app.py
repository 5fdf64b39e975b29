"""Probe component: runs a Python snippet inside the sandbox and returns the bytes it makes.

It has numpy, Pillow and the project's modules (component/: the engine, the HTTP plumbing) imported.

componentize-py snapshots this module after importing it at build time and bundles only the
modules imported then, so every numpy submodule and Pillow's format plugins load here.
"""

import encodings.cp437  # noqa: F401  zipfile decodes member names with it
import io
import json
import os
import socket
import traceback
import zipfile  # noqa: F401  np.load reads .npz archives with it

import numpy
import numpy.fft
import numpy.linalg
import numpy.random
from PIL import Image, ImageOps

import api
import engine
import wit_world
from wit_world import exports
from componentize_py_types import Err
import settings
from http_io import incoming_request, send

Image.init()  # registers every format plugin now: they could not be imported at run time


def run_snippet(source, data):
    """Runs `source` with `data` bound; returns the bytes it binds to `result`."""
    scope = {
        "np": numpy,
        "Image": Image,
        "ImageOps": ImageOps,
        "io": io,
        "json": json,
        "os": os,
        "socket": socket,
        "engine": engine,
        "data": data,
    }
    exec(source, scope)
    return scope["result"]


class WitWorld(wit_world.WitWorld):
    def run(self, source: str, data: bytes) -> bytes:
        try:
            return run_snippet(source, data)
        except Exception as e:
            raise Err(f"{type(e).__name__}: {e}\n{traceback.format_exc()}") from None


class IncomingHandler(exports.IncomingHandler):
    """The request body is the snippet: 200 with its result, or 500 with its exception."""

    def handle(self, request, response_out):
        try:
            response = api.Response(
                200,
                run_snippet(incoming_request(request).read_body(settings.DEFAULTS.max_body_bytes).decode(), b""),
                "application/octet-stream",
            )
        except Exception as e:
            response = api.Response(500, f"{type(e).__name__}: {e}".encode(), "text/plain")
        send(response_out, response)
