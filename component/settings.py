"""The settings of an instance (model file, CORS origins, limits), read in this one place.

    model_path       MODEL_PATH       an ONNX file in a granted folder; empty: the embedded model
    cors_origins     CORS_ORIGINS     origins allowed to call from browsers (cors.py), separated
                                      by commas or spaces, e.g. "https://a.example,http://localhost:8080";
                                      "*" allows any; empty (the default): CORS off
    cors_max_age     CORS_MAX_AGE     seconds a browser may cache a preflight answer
    max_body_bytes   MAX_BODY_BYTES   a request body over this is refused (413)
    body_seconds     BODY_SECONDS     a body (or the rest of an oversized one) not received by then
                                      ends the request (408, or the 413 already decided)
    max_pixels       MAX_PIXELS       an image declaring more pixels is refused from its header (422)
    max_batch        MAX_BATCH        images per request (Open Inference Protocol [N], multipart files)
    max_form_parts   MAX_FORM_PARTS   parts of a multipart/form-data body (files and fields)
    default_top_k    DEFAULT_TOP_K    predictions per image when the request does not say

Each comes, first match wins, from the Spin variable of its name (built as
build/classifier-spin.wasm, which imports wasi:config/store: spin.toml's
[component.classifier.variables]), then the environment variable in capitals (wasmtime serve
--env, spin.toml `environment`, the host/ harness), then the default below. They are read once
per instance, on first use: never at import time, which componentize-py runs at build time and
snapshots (the build machine's environment would be baked in). A value that does not parse is
errors.BadSettings: every request says so (503) until the host's configuration is fixed.
"""
import math
import os
from dataclasses import dataclass, fields

from errors import BadSettings

try:  # only in the Spin build (world classifier-spin): Spin's variables
    from componentize_py_types import Err
    from wit_world.imports import store as spin_variables
except ImportError:
    spin_variables = None

# Defaults (also the values of anything that does not read the settings, e.g. the test probe).
MAX_BODY_BYTES = 10 * 1024 * 1024
BODY_SECONDS = 30.0
MAX_PIXELS = 40_000_000  # decompression-bomb guard; covers every phone and DSLR photo
DEFAULT_TOP_K = 5
# How much of an oversized body is still read (and dropped) so that clients that send everything
# before reading (urllib, requests) get the 413: fixed, and the ceiling of max_body_bytes.
DRAIN_BYTES = 64 * 1024 * 1024


def positive_int(text, name, ceiling=None):
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise BadSettings(f"setting {name} must be a positive integer, got {text!r}")
    if ceiling is not None and int(text) > ceiling:
        raise BadSettings(f"setting {name} must be at most {ceiling}, got {text}")
    return int(text)


def positive_seconds(text, name):
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (0 < value <= 3600):
        raise BadSettings(f"setting {name} must be a number of seconds in (0, 3600], got {text!r}")
    return value


def origins(text, name):
    """ "https://a.example, http://localhost:8080" -> ("https://a.example", "http://localhost:8080");
    an origin is scheme://host[:port], as browsers send it (no path, no trailing slash)."""
    found = tuple(o.lower() for o in text.replace(",", " ").split())
    for origin in found:
        scheme, sep, rest = origin.partition("://")
        if origin != "*" and not (sep and scheme in ("http", "https") and rest and "/" not in rest):
            raise BadSettings(f"setting {name}: {origin!r} is not an origin like https://app.example or *")
    return found


@dataclass(frozen=True)
class Settings:
    model_path: str = ""
    cors_origins: tuple = ()
    cors_max_age: int = 600
    max_body_bytes: int = MAX_BODY_BYTES
    body_seconds: float = BODY_SECONDS
    max_pixels: int = MAX_PIXELS
    max_batch: int = 8  # ~20 MB of activations per image (EfficientNet-Lite0): 8 fit in 256 MiB
    max_form_parts: int = 64
    default_top_k: int = DEFAULT_TOP_K


PARSERS = {
    "model_path": lambda text, name: text,
    "cors_origins": origins,
    "cors_max_age": positive_int,
    "max_body_bytes": lambda text, name: positive_int(text, name, DRAIN_BYTES),
    "body_seconds": positive_seconds,
    "max_pixels": positive_int,
    "max_batch": lambda text, name: positive_int(text, name, 256),
    "max_form_parts": positive_int,
    "default_top_k": positive_int,
}


def lookup(name):
    """The configured text of a setting (Spin variable, else environment), or None."""
    if spin_variables is not None:
        try:
            value = spin_variables.get(name)  # None when the manifest does not define it
        except Err as e:  # the variables provider failed (e.g. Vault unreachable)
            raise BadSettings(f"Spin variable {name}: {e.value}") from None
        if value:
            return value
    return os.environ.get(name.upper()) or None


def read():
    given = {}
    for f in fields(Settings):
        text = lookup(f.name)
        if text is not None:
            given[f.name] = PARSERS[f.name](text.strip(), f.name.upper())
    return Settings(**given)


_current = None


def get():
    """This instance's settings, read on first use."""
    global _current
    if _current is None:
        _current = read()
    return _current


def reset():
    """Forgets the settings read, so that the next get() reads them again (native tests, which
    change the environment between cases; an instance never needs it)."""
    global _current
    _current = None
