"""What can go wrong with a request, and how each front end says so.

policy(error) is the one lookup: a Failure with the HTTP status (api.py), the case of the typed
interface's `error` variant (wit/classifier.wit, app.py), the message and the headers. An
HttpError (web.py: 404, 405, 408, 413) carries its own status and headers; the other failures
go by POLICY, where the first row whose class matches wins (subclasses first). Anything else is
a bug: HTTP 500, `internal`.
"""

from dataclasses import dataclass

from web import HttpError


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


@dataclass(frozen=True)
class Failure:
    status: int  # HTTP
    case: str  # the WIT error case
    message: str
    headers: tuple = ()  # extra HTTP headers, e.g. a 405's allow

    @property
    def is_bug(self):
        return self.case == INTERNAL_CASE


@dataclass(frozen=True)
class Rule:
    kind: type
    status: int
    case: str
    default: str  # the message when the exception has none


POLICY = (
    Rule(BadRequest, 400, "bad-request", "bad request"),
    Rule(UnsupportedFormat, 415, "unsupported-format", "unsupported image format"),
    Rule(BadImage, 400, "not-an-image", "not an image"),
    Rule(ImageTooLarge, 422, "image-too-large", "image too large"),
    Rule(ModelUnavailable, 503, "bad-model", "model unavailable"),
    # The WIT has no configuration case; like a bad model, the instance cannot serve until
    # the host's configuration is fixed.
    Rule(BadSettings, 503, "bad-model", "bad settings"),
    # The instance's memory cap was reached: the host should not reuse this instance.
    Rule(MemoryError, 503, "out-of-memory", "the instance ran out of memory on this request"),
)
INTERNAL_CASE = "internal"
# Every WIT error case a failure can map to (app.py binds each to its generated class).
WIT_CASES = tuple(dict.fromkeys([rule.case for rule in POLICY] + [INTERNAL_CASE]))


def policy(error):
    """The Failure an exception is: its HTTP status, WIT case, message and headers."""
    if isinstance(error, HttpError):
        # The typed interface has no route or transport cases: there a client's HTTP failure
        # (4xx) is a bad request.
        case = "bad-request" if error.status < 500 else INTERNAL_CASE
        return Failure(error.status, case, str(error), tuple(error.headers))
    for rule in POLICY:
        if isinstance(error, rule.kind):
            return Failure(rule.status, rule.case, str(error) or rule.default)
    return Failure(500, INTERNAL_CASE, f"{type(error).__name__}: {error}")
