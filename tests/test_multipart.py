"""multipart/form-data on POST /predict: component/multipart.py natively against bodies encoded
by urllib3 (an independent encoder), malformed and random bytes; then `make serve` answering
forms the way curl -F and browsers send them."""

import http.client
import json
from urllib.parse import urlsplit

import numpy as np
import pytest
from urllib3.filepost import encode_multipart_formdata

from photos import CAT_CLASSES, CHELSEA, CHELSEA_JPEG, COFFEE_JPEG, ESPRESSO, encode

import errors
import multipart
import settings

NOTES = b"hello, this is not an image\n" * 10
MAX_BATCH, MAX_PARTS = settings.DEFAULTS.max_batch, settings.DEFAULTS.max_form_parts


def form(*fields, boundary=None):
    """(body, Content-Type) for fields (name, bytes) or (name, (filename, bytes, type))."""
    return encode_multipart_formdata(list(fields), boundary=boundary)


def test_parses_what_urllib3_encodes():
    body, content_type = form(
        ("image", ("cat.jpg", CHELSEA_JPEG, "image/jpeg")),
        ("top_k", b"3"),
        ("images[]", ('caf\u00e9 "au" lait.jpg', COFFEE_JPEG, "image/jpeg")),
    )
    cat, top_k, coffee = multipart.parse(body, content_type, MAX_PARTS)
    assert (cat.name, cat.filename, cat.content_type, cat.data) == ("image", "cat.jpg", "image/jpeg", CHELSEA_JPEG)
    assert (top_k.name, top_k.filename, top_k.data) == ("top_k", None, b"3")
    assert coffee.filename == 'caf\u00e9 "au" lait.jpg' and coffee.data == COFFEE_JPEG


def test_preamble_epilogue_padding_and_quoted_boundary():
    body = b'a preamble\r\n--b c\t \r\nContent-Disposition: form-data; name="x"\r\n\r\nvalue\r\n--b c--\r\nan epilogue'
    [part] = multipart.parse(body, 'multipart/form-data; boundary="b c"', MAX_PARTS)
    assert (part.name, part.filename, part.data) == ("x", None, b"value")


def part(headers, data=b"data"):
    return b"--B\r\n" + headers + b"\r\n\r\n" + data + b"\r\n--B--\r\n"


DISPOSITION = b'Content-Disposition: form-data; name="image"; filename="a.jpg"'
MALFORMED = {
    "no boundary parameter": (b"", "multipart/form-data", "without a boundary"),
    "boundary of 71 characters": (b"", "multipart/form-data; boundary=" + "x" * 71, "1 to 70"),
    "boundary ending in a space": (b"", 'multipart/form-data; boundary="x "', "1 to 70"),
    "empty boundary": (b"", 'multipart/form-data; boundary=""', "1 to 70"),
    "bad parameters": (b"", "multipart/form-data; boundary", "malformed parameters"),
    "repeated boundary": (b"", "multipart/form-data; boundary=a; boundary=b", "repeated"),
    "boundary absent from the body": (b"just some bytes", None, "does not contain its boundary"),
    "no closing boundary": (b"--B\r\n" + DISPOSITION + b"\r\n\r\ndata", None, "ends before its closing boundary"),
    "ends after a boundary": (b"--B\r\n" + DISPOSITION + b"\r\n\r\ndata\r\n--B", None, "ends before its closing"),
    "junk after a boundary": (
        b"--Bjunk\r\n" + DISPOSITION + b"\r\n\r\nx\r\n--B--",
        None,
        "not followed by a line break",
    ),
    "no headers": (part(b""), None, "no Content-Disposition"),
    "headers never end": (b"--B\r\n" + DISPOSITION + b"\r\n" + b"X-Pad: " + b"p" * 9000, None, "do not end"),
    "not form-data": (part(b'Content-Disposition: attachment; name="a"'), None, "form-data; name="),
    "no name": (part(b'Content-Disposition: form-data; filename="a.jpg"'), None, "form-data; name="),
    "obsolete line folding": (part(DISPOSITION + b"\r\n Content-Type: image/jpeg"), None, "malformed header line"),
    "not a header line": (part(DISPOSITION + b"\r\nno colon here"), None, "malformed header line"),
    "repeated header": (part(DISPOSITION + b"\r\n" + DISPOSITION), None, "repeated"),
    "repeated parameter": (part(b'Content-Disposition: form-data; name="a"; name="b"'), None, "repeated"),
    "unterminated quote": (part(b'Content-Disposition: form-data; name="a'), None, "malformed parameters"),
    "base64 transfer encoding": (
        part(DISPOSITION + b"\r\nContent-Transfer-Encoding: base64"),
        None,
        "Content-Transfer-Encoding",
    ),
    "too many parts": (
        b"".join(b'--B\r\nContent-Disposition: form-data; name="f"\r\n\r\nv\r\n' for _ in range(MAX_PARTS + 1))
        + b"--B--",
        None,
        f"more than {MAX_PARTS} parts",
    ),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_forms_are_bad_requests(case):
    body, content_type, fragment = MALFORMED[case]
    with pytest.raises(errors.BadRequest) as error:
        multipart.parse(body, content_type or "multipart/form-data; boundary=B", MAX_PARTS)
    assert fragment in str(error.value)


def outcome(body, content_type="multipart/form-data; boundary=B"):
    """'ok' or 'bad request': any other exception fails the test."""
    try:
        multipart.parse(body, content_type, MAX_PARTS)
        return "ok"
    except errors.BadRequest:
        return "bad request"


def test_every_truncation_and_many_mutations_parse_or_are_bad_requests():
    body, content_type = form(
        ("a", ("a.png", encode(CHELSEA.resize((16, 16)), "PNG"), "image/png")), ("b", b"text"), boundary="B"
    )
    assert outcome(body) == "ok"
    closed = body.rindex(b"--B--") + len(b"--B--")  # the CRLF after the close delimiter is optional
    assert {outcome(body[:n]) for n in range(closed)} == {"bad request"}
    assert {outcome(body[:n]) for n in range(closed, len(body))} == {"ok"}
    rng = np.random.default_rng(7)
    for _ in range(3000):
        mutated = bytearray(body)
        for at in rng.integers(0, len(body), rng.integers(1, 4)):
            mutated[at] = rng.integers(0, 256)
        outcome(bytes(mutated))


def test_random_bytes_and_content_types_are_bad_requests():
    rng = np.random.default_rng(11)
    for size in [0, 1, 2, 5, 64, 4096]:
        for _ in range(50):
            assert outcome(rng.integers(0, 256, size, dtype=np.uint8).tobytes()) == "bad request"
    alphabet = np.frombuffer(b'multipart/form-data; boundary="=\\ \t,;x', np.uint8)
    for _ in range(2000):
        content_type = rng.choice(alphabet, rng.integers(0, 60)).tobytes().decode()
        outcome(b"--x\r\n\r\n--x--", content_type)


# --- through make serve -------------------------------------------------------------------


def post(server, body, content_type, path="/predict"):
    connection = http.client.HTTPConnection(urlsplit(server).netloc, timeout=300)
    connection.request("POST", path, body, {"Content-Type": content_type} if content_type else {})
    response = connection.getresponse()
    answer = json.loads(response.read())
    connection.close()
    return response.status, answer


def without_timings(answer):
    return {k: v for k, v in answer.items() if k != "timings_ms"}


def test_one_file_answers_as_the_raw_body(server):
    raw = post(server, CHELSEA_JPEG, None, "/predict?top_k=3")
    filed = post(server, *form(("image", ("cat.jpg", CHELSEA_JPEG, "image/jpeg"))), "/predict?top_k=3")
    assert raw[0] == filed[0] == 200 and without_timings(raw[1]) == without_timings(filed[1])
    assert filed[1]["predictions"][0]["index"] in CAT_CLASSES
    status, answer = post(server, *form(("image", ("notes.txt", NOTES, "text/plain"))))
    assert (status, answer) == post(server, NOTES, None)  # the same 400 too


def test_several_files_one_entry_each_in_order(server):
    body, content_type = form(
        ("image", ("coffee.jpg", COFFEE_JPEG, "image/jpeg")),
        ("top_k", b"2"),
        ("image", ("notes.txt", NOTES, "text/plain")),
        ("comment", b"ignored"),
        ("image", ("cat.jpg", CHELSEA_JPEG, "image/jpeg")),
        ("empty", ("", b"", "application/octet-stream")),
    )  # a file input left empty
    status, answer = post(server, body, content_type, "/predict?top_k=9")
    assert status == 200, answer
    coffee, notes, cat = answer["results"]
    assert [e["filename"] for e in answer["results"]] == ["coffee.jpg", "notes.txt", "cat.jpg"]
    assert len(coffee["predictions"]) == 2 and coffee["predictions"][0]["index"] == ESPRESSO
    assert notes["status"] == 400 and "not an image" in notes["error"] and "predictions" not in notes
    single = post(server, CHELSEA_JPEG, None, "/predict?top_k=2")[1]["predictions"]
    assert [p["index"] for p in cat["predictions"]] == [p["index"] for p in single]
    assert all(abs(a["score"] - b["score"]) < 1e-5 for a, b in zip(cat["predictions"], single))


@pytest.mark.parametrize(
    "fields,fragment",
    [
        ([("top_k", b"3")], "has no file"),
        ([("image", ("", b"", "application/octet-stream"))], "has no file"),
        ([("image", ("cat.jpg", CHELSEA_JPEG, "image/jpeg")), ("top_k", b"zero")], "top_k"),
        ([("image", (f"{i}.png", b"x", "image/png")) for i in range(MAX_BATCH + 1)], f"limit is {MAX_BATCH}"),
        ([("f", b"v")] * (MAX_PARTS + 1), f"more than {MAX_PARTS} parts"),
    ],
)
def test_form_errors(server, fields, fragment):
    status, answer = post(server, *form(*fields))
    assert status == 400 and fragment in answer["error"], answer


def test_malformed_form_through_the_server(server):
    body, content_type = form(("image", ("cat.jpg", CHELSEA_JPEG, "image/jpeg")))
    for broken in [body[: len(body) // 2], body.replace(b"Content-Disposition", b"Content-Dispositio"), b"\x00" * 100]:
        status, answer = post(server, broken, content_type)
        assert status == 400 and "multipart" in answer["error"], answer
    status, answer = post(server, body, "multipart/form-data")
    assert status == 400 and "boundary" in answer["error"]
