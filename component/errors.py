"""What can go wrong with a request, and how each front end says so.

POLICY is the one table: each failure's HTTP status (api.py) and its case of the typed
interface's `error` variant (wit/classifier.wit, app.py). The first row whose class matches
wins, so subclasses come first. Anything not in the table is a bug: HTTP 500, `internal`.
"""


class BadRequest(ValueError):
    """The request is malformed: an argument out of range, a body that is not what it says."""


class BadImage(ValueError):
    """The bytes are not a decodable image."""


class UnsupportedFormat(BadImage):
    """A known image format that this build cannot decode; the message names it."""


class ImageTooLarge(ValueError):
    """The image declares more pixels than the limit (decided from its header)."""


class ModelUnavailable(RuntimeError):
    """The model file is missing, malformed, or uses an operator the engine lacks."""


class BadSettings(RuntimeError):
    """A setting (settings.py: Spin variable or environment variable) does not parse."""


POLICY = (
    # failure            HTTP  WIT error case        message when the exception has none
    (BadRequest,          400, "bad-request",        "bad request"),
    (UnsupportedFormat,   415, "unsupported-format", "unsupported image format"),
    (BadImage,            400, "not-an-image",       "not an image"),
    (ImageTooLarge,       422, "image-too-large",    "image too large"),
    (ModelUnavailable,    503, "bad-model",          "model unavailable"),
    # The WIT has no configuration case; like a bad model, the instance cannot serve until
    # the host's configuration is fixed.
    (BadSettings,         503, "bad-model",          "bad settings"),
    # The instance's memory cap was reached: the host should not reuse this instance.
    (MemoryError,         503, "out-of-memory",      "the instance ran out of memory on this request"),
)
INTERNAL = (500, "internal")


def policy(error):
    """(HTTP status, WIT case, message) for an exception; (500, "internal", ...) if unknown."""
    for kind, status, case, default in POLICY:
        if isinstance(error, kind):
            return status, case, str(error) or default
    return (*INTERNAL, f"{type(error).__name__}: {error}")
