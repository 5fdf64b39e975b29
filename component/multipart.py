"""multipart/form-data bodies (RFC 7578, on RFC 2046's multipart syntax): a small strict parser.

    parts = parse(body, content_type, max_parts)   # [Part(name, filename, content_type, data)]

What `curl -F image=@cat.jpg` and browsers send: "--BOUNDARY" CRLF, each part's headers, a blank
line, its bytes, CRLF "--BOUNDARY" ..., and "--BOUNDARY--" to close. A preamble before the first
boundary and an epilogue after the last are skipped (RFC 2046). Anything else off the grammar is
errors.BadRequest saying what: no or bad boundary parameter, a boundary not followed by a line
break (or "--"), a part whose headers do not end within MAX_HEADER_BYTES, a header line that is
not `Name: value` (obsolete line folding included), a part without `Content-Disposition:
form-data; name=...`, a repeated header or parameter, a Content-Transfer-Encoding other than
7bit/8bit/binary, more than `max_parts` parts, a body that ends before its closing boundary.

Not the stdlib's `email` parser (CPython 3.14 has no `cgi` any more): it is lenient by design,
so a truncated or malformed body still parses into something (the damage becomes a "defect" on
the message, not an error), and it decodes every header through email.policy machinery, which
made it much slower on large forms (docs/performance.md).
"""

import re
from dataclasses import dataclass

from errors import BadRequest
from web import echo

TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"  # RFC 9110 token
VALUE = rf'{TOKEN}|"(?:[^"\\\r\n]|\\.)*"'  # a token or a quoted string
PARAM = re.compile(rf";[ \t]*({TOKEN})[ \t]*=[ \t]*({VALUE})[ \t]*")
HEAD = re.compile(rf"[ \t]*({TOKEN}(?:/{TOKEN})?)[ \t]*")
HEADER_LINE = re.compile(rf"({TOKEN}):[ \t]*([^\r\n]*?)[ \t]*")
# RFC 2046 boundary: 1 to 70 of these characters, the last not a space.
BOUNDARY = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]")
MAX_HEADER_BYTES = 8192
TRANSFER_ENCODINGS = {"7bit", "8bit", "binary"}
# Browsers (the WHATWG HTML form encoding) write these three characters of field and file names
# percent-escaped; curl escapes quotes with a backslash (undone as a quoted string).
HTML_ESCAPES = re.compile("%(22|0D|0A)")


@dataclass
class Part:
    name: str
    filename: str | None  # None for a plain field; "" when a form's file input was left empty
    content_type: str | None
    data: bytes


def is_form(content_type):
    return (content_type or "").split(";")[0].strip().lower() == "multipart/form-data"


def header_value(text, what):
    """'form-data; name="a"' -> ("form-data", {"name": "a"}), names lower-cased, quotes undone."""
    head = HEAD.match(text)
    if not head:
        raise BadRequest(f"malformed {what}: {echo(text)}")
    params, pos = {}, head.end()
    while pos < len(text):
        param = PARAM.match(text, pos)
        if not param:
            raise BadRequest(f"malformed parameters in {what}: {echo(text)}")
        name, value = param.group(1).lower(), param.group(2)
        if name in params:
            raise BadRequest(f"parameter {echo(name)} repeated in {what}")
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        params[name], pos = value, param.end()
    return head.group(1).lower(), params


def boundary_of(content_type):
    _, params = header_value(content_type, "Content-Type")
    boundary = params.get("boundary")
    if boundary is None:
        raise BadRequest("multipart/form-data without a boundary parameter in its Content-Type")
    if not BOUNDARY.fullmatch(boundary):
        raise BadRequest(f"multipart boundary {echo(boundary)} is not 1 to 70 allowed characters")
    return boundary.encode()


def part_headers(block):
    """A part's header block (lines joined by CRLF) -> {lower-case name: value}."""
    headers = {}
    for line in block.split(b"\r\n") if block else []:
        text = line.decode("utf-8", "replace")
        match = HEADER_LINE.fullmatch(text)
        if not match:
            raise BadRequest(f"malformed header line in a multipart part: {echo(text)}")
        name = match.group(1).lower()
        if name in headers:
            raise BadRequest(f"header {echo(name)} repeated in a multipart part")
        headers[name] = match.group(2)
    return headers


def make_part(headers, data):
    if "content-disposition" not in headers:
        raise BadRequest("a multipart part has no Content-Disposition header")
    kind, params = header_value(headers["content-disposition"], "Content-Disposition")
    if kind != "form-data" or "name" not in params:
        raise BadRequest("a multipart part is not `Content-Disposition: form-data; name=...`")
    encoding = headers.get("content-transfer-encoding", "binary").lower()
    if encoding not in TRANSFER_ENCODINGS:
        raise BadRequest(f"Content-Transfer-Encoding {echo(encoding)} is not supported; send the bytes as they are")
    name, filename = (
        HTML_ESCAPES.sub(lambda m: chr(int(m.group(1), 16)), v) if v is not None else None
        for v in (params["name"], params.get("filename"))
    )
    return Part(name, filename, headers.get("content-type"), data)


def parse(body, content_type, max_parts):
    """Every part of a multipart/form-data body, in order."""
    dash = b"--" + boundary_of(content_type)
    delimiter = b"\r\n" + dash
    if body.startswith(dash):
        pos = len(dash)
    else:
        at = body.find(delimiter)
        if at < 0:
            raise BadRequest("the multipart body does not contain its boundary")
        pos = at + len(delimiter)
    parts = []
    while not body.startswith(b"--", pos):  # "--" after a boundary closes the body
        while body[pos : pos + 1] in (b" ", b"\t"):  # transport padding
            pos += 1
        if pos >= len(body):
            raise BadRequest("the multipart body ends before its closing boundary")
        if not body.startswith(b"\r\n", pos):
            raise BadRequest("a multipart boundary is not followed by a line break")
        if len(parts) == max_parts:
            raise BadRequest(f"the form has more than {max_parts} parts")
        # The CRLF ending the boundary line starts the search: a part without headers has its
        # blank line right there.
        headers_end = body.find(b"\r\n\r\n", pos, pos + 4 + MAX_HEADER_BYTES)
        if headers_end < 0:
            raise BadRequest(f"a multipart part's headers do not end within {MAX_HEADER_BYTES} bytes")
        headers = part_headers(body[pos + 2 : headers_end])
        end = body.find(delimiter, headers_end + 4)
        if end < 0:
            raise BadRequest("the multipart body ends before its closing boundary")
        parts.append(make_part(headers, body[headers_end + 4 : end]))
        pos = end + len(delimiter)
    return parts
