"""CORS (the Fetch standard): which pages on other origins may call this API from a browser.

Off by default; settings.cors_origins lists the origins allowed (or "*" for any). Then:
  - a preflight (OPTIONS with Origin and Access-Control-Request-Method) from an allowed origin
    is answered 204 with Access-Control-Allow-Origin, -Allow-Methods (the route's), -Allow-Headers
    (Content-Type, Inference-Header-Content-Length, X-Request-Id) and -Max-Age;
  - every other answer to an allowed origin, errors included, carries Access-Control-Allow-Origin
    and Access-Control-Expose-Headers (x-request-id, and Inference-Header-Content-Length, which a
    script needs to split a binary Open Inference Protocol answer);
  - with origins listed (not "*"), every answer says Vary: Origin, since it depends on it.
No credentials (cookies, HTTP auth) are involved, so Access-Control-Allow-Credentials is never sent.
OPTIONS from an origin not allowed, or without CORS, is a plain 204 with Allow: the browser then
refuses the cross-origin call.
"""

import settings
from web import Response

ALLOW_HEADERS = "content-type, inference-header-content-length, x-request-id"
EXPOSE_HEADERS = "x-request-id, inference-header-content-length"


def allowed_origin(request):
    """The Access-Control-Allow-Origin value for this request, or None when CORS does not apply."""
    configured = settings.get().cors_origins
    origin = request.header("origin")
    if not configured or origin is None:
        return None
    if "*" in configured:
        return "*"
    return origin if origin.lower() in configured else None


def options(request, allow):
    """The answer to OPTIONS on a route whose methods are `allow` ("GET, HEAD, OPTIONS")."""
    headers = [("allow", allow)]
    if allowed_origin(request) and request.header("access-control-request-method"):
        headers += [
            ("access-control-allow-methods", allow),
            ("access-control-allow-headers", ALLOW_HEADERS),
            ("access-control-max-age", str(settings.get().cors_max_age)),
        ]
    return Response(204, b"", headers=headers)


def headers(request):
    """The CORS headers every answer to this request carries (none when CORS is off)."""
    configured = settings.get().cors_origins
    found = [("vary", "Origin")] if configured and "*" not in configured else []
    origin = allowed_origin(request)
    if origin:
        found.append(("access-control-allow-origin", origin))
        if request.method != "OPTIONS":
            found.append(("access-control-expose-headers", EXPOSE_HEADERS))
    return found
