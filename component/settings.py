"""The settings of an instance (model file, CORS origins, limits), declared and read in this one place.

Each is one field of Settings below: its default, its parser (with its ceiling and the reason
for it) and what it does; markdown() renders them as the README's table (tests/test_settings.py
keeps the two equal).

Each comes, first match wins, from the Spin variable of its name (built as
build/classifier-spin.wasm, which imports wasi:config/store: spin.toml's
[component.classifier.variables]), then the environment variable in capitals (wasmtime serve
--env, spin.toml `environment`, the host/ harness), then the default. They are read once
per instance, on first use: never at import time, which componentize-py runs at build time and
snapshots (the build machine's environment would be baked in). A value that does not parse is
errors.BadSettings: every request says so (503) until the host's configuration is fixed.
"""

import math
import os
from dataclasses import dataclass, field, fields

from errors import BadSettings
from web import decimal, echo

try:  # only in the Spin build (world classifier-spin): Spin's variables
    from componentize_py_types import Err
    from wit_world.imports import store as spin_variables
except ImportError:
    spin_variables = None

# How much of an oversized body is still read (and dropped) so that clients that send everything
# before reading (urllib, requests) get the 413: fixed, and the ceiling of max_body_bytes.
DRAIN_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Integer:
    """A positive integer, at most `ceiling` (for `why`)."""

    ceiling: int | None = None
    why: str = ""

    def __call__(self, text, name):
        value = decimal(text)
        if value is None or value < 1:
            raise BadSettings(f"setting {name} must be a positive integer, got {echo(text)}")
        if self.ceiling is not None and value > self.ceiling:
            raise BadSettings(f"setting {name} must be at most {self.ceiling} ({self.why}), got {text}")
        return value


@dataclass(frozen=True)
class Seconds:
    """A number of seconds in (0, ceiling] (for `why`)."""

    ceiling: float
    why: str

    def __call__(self, text, name):
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (0 < value <= self.ceiling):
            raise BadSettings(
                f"setting {name} must be a number of seconds in (0, {self.ceiling:g}] ({self.why}), got {echo(text)}"
            )
        return value


def text(text, name):
    return text


def origins(text, name):
    """ "https://a.example, http://localhost:8080" -> ("https://a.example", "http://localhost:8080");
    an origin is scheme://host[:port], as browsers send it (no path, no trailing slash)."""
    found = tuple(o.lower() for o in text.replace(",", " ").split())
    for origin in found:
        scheme, sep, rest = origin.partition("://")
        if origin != "*" and not (sep and scheme in ("http", "https") and rest and "/" not in rest):
            raise BadSettings(f"setting {name}: {echo(origin)} is not an origin like https://app.example or *")
    return found


def setting(default, parse, does, shown=None):
    """A Settings field: its default, the parser of its configured text, what it does (the
    README's table) and, when the default is empty, what that means."""
    return field(default=default, metadata={"parse": parse, "does": does, "shown": shown})


@dataclass(frozen=True)
class Settings:
    model_path: str = setting("", text, "an ONNX file in a granted folder", "(the embedded model)")
    cors_origins: tuple = setting((), origins, "origins separated by commas or spaces, or `*`", "(CORS off)")
    cors_max_age: int = setting(600, Integer(), "seconds a browser may cache a preflight")
    max_body_bytes: int = setting(
        10 * 1024 * 1024,
        Integer(DRAIN_BYTES, "a body is held whole; a refused one is drained up to this"),
        "request body limit (413)",
    )
    body_seconds: float = setting(
        30.0,
        Seconds(3600, "a stalled upload holds an instance and its memory that long"),
        "time to receive a body (408)",
    )
    # A decompression-bomb guard; covers every phone and DSLR photo.
    max_pixels: int = setting(40_000_000, Integer(), "decoded image size limit (422)")
    # ~20 MB of activations per image (EfficientNet-Lite0): 8 fit in 256 MiB (docs/performance.md).
    max_batch: int = setting(
        8,
        Integer(256, "a typo guard: at ~20 MB of activations an image, 200 already exceed wasm32's 4 GiB"),
        "images per request (OIP `[N]`, form files)",
    )
    max_form_parts: int = setting(64, Integer(), "parts of one form")
    default_top_k: int = setting(5, Integer(), "predictions per image when the request does not say")


FIELDS = {f.name: f for f in fields(Settings)}
DEFAULTS = Settings()  # also the values of anything that does not read the settings (e.g. the test probe)


def markdown():
    """The README's table of the settings, from their declarations."""
    rows = ["| Spin variable | environment | default | |", "| --- | --- | --- | --- |"]
    for f in FIELDS.values():
        parse, shown = f.metadata["parse"], f.metadata["shown"]
        default = shown or (f"{f.default:g}" if isinstance(f.default, float) else f.default)
        ceiling = getattr(parse, "ceiling", None)
        limit = f", at most {ceiling} ({parse.why})" if ceiling else ""
        rows.append(f"| `{f.name}` | `{f.name.upper()}` | {default} | {f.metadata['does']}{limit} |")
    return "\n".join(rows) + "\n"


def parse(name, text):
    """The value of setting `name` given as `text`; BadSettings if it does not parse."""
    return FIELDS[name].metadata["parse"](text.strip(), name.upper())


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
            given[f.name] = parse(f.name, text)
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
