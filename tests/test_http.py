"""Every route and error status of the HTTP API, through the real component under `wasmtime serve`."""

import hashlib
import http.client
import itertools
import json
import struct
import urllib.error
import urllib.request
import zlib
from urllib.parse import urlsplit

import numpy as np
import pytest
from PIL import Image

from conftest import MODEL
from photos import CAT_CLASSES, CHELSEA, CHELSEA_JPEG, COFFEE_JPEG, ESPRESSO, encode

import settings


def request(base, path, body=None, method=None, headers=None):
    """(status, headers, parsed JSON or text) of one request."""
    req = urllib.request.Request(base + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            status, hdrs, raw = r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        status, hdrs, raw = e.code, e.headers, e.read()
    if hdrs.get("content-type", "").startswith("application/json"):
        return status, hdrs, json.loads(raw)
    return status, hdrs, raw.decode()


def png_chunk(kind, payload):
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_claiming(width, height):
    """A small PNG whose header declares width x height RGB pixels (a decompression bomb:
    its IDAT would inflate to gigabytes of zeros; here it holds only the first 64 KiB)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(bytes(65536), 9)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def test_predict_ranks_real_photos(server):
    status, _, cat = request(server, "/predict", CHELSEA_JPEG, "POST")
    assert status == 200, cat
    assert cat["model"] == "efficientnet-lite0"
    assert cat["predictions"][0]["index"] in CAT_CLASSES
    assert len(cat["predictions"]) == 5
    scores = [p["score"] for p in cat["predictions"]]
    assert scores == sorted(scores, reverse=True) and 0 < sum(scores) <= 1.0001
    assert set(cat["timings_ms"]) >= {"preprocess", "inference", "total"}
    status, _, coffee = request(server, "/predict?top_k=2", COFFEE_JPEG, "POST")
    assert status == 200 and coffee["predictions"][0]["index"] == ESPRESSO
    assert coffee["predictions"][0]["label"] == "espresso" and len(coffee["predictions"]) == 2


def test_index_page_and_health(server):
    status, headers, html = request(server, "/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert 'type="file"' in html and "predict" in html
    assert request(server, "/healthz")[::2] == (200, {"status": "ok"})


def test_model_info(server):
    status, _, info = request(server, "/model")
    assert status == 200
    assert info["sha256"] == hashlib.sha256(MODEL.read_bytes()).hexdigest()
    assert info["input_size"] == 224 and info["num_classes"] == 1000
    assert info["op_counts"]["Conv"] > 40 and 4_000_000 < info["parameters"] < 6_000_000


NOISE = np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8).tobytes()
BAD_REQUESTS = {
    "empty body": ("POST", "/predict", b"", 400),
    "random bytes": ("POST", "/predict", NOISE, 400),
    "text": ("POST", "/predict", b"hello, this is not an image\n" * 10, 400),
    "truncated jpeg": ("POST", "/predict", CHELSEA_JPEG[: len(CHELSEA_JPEG) // 3], 400),
    "header-only png": ("POST", "/predict", encode(CHELSEA, "PNG")[:100], 400),
    "header-only jpeg": ("POST", "/predict", CHELSEA_JPEG[: CHELSEA_JPEG.index(b"\xff\xda")], 400),
    "60000x60000 png": ("POST", "/predict", png_claiming(60000, 60000), 422),
    "bad top_k": ("POST", "/predict?top_k=zero", CHELSEA_JPEG, 400),
    "wrong method": ("GET", "/predict", None, 405),
    "wrong method on page": ("DELETE", "/", None, 405),
    "unknown route": ("POST", "/classify", CHELSEA_JPEG, 404),
}


@pytest.mark.parametrize("case", BAD_REQUESTS)
def test_bad_requests_get_json_errors_and_server_keeps_serving(server, case):
    method, path, body, expected = BAD_REQUESTS[case]
    status, headers, answer = request(server, path, body, method)
    assert status == expected, answer
    assert isinstance(answer, dict) and answer["error"]
    if expected == 405:
        assert headers["allow"]
    status, _, good = request(server, "/predict", COFFEE_JPEG, "POST")
    assert status == 200 and good["predictions"][0]["index"] == ESPRESSO


def exif_rotated_jpeg():
    """Chelsea stored lying on her side, with the EXIF orientation (6: rotate 90 degrees
    clockwise to view) that makes a viewer show her upright."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(CHELSEA.transpose(Image.Transpose.ROTATE_90), exif=exif, quality=90)


def sixteen_bit_png():
    wide = np.asarray(CHELSEA.convert("L"), np.uint16) * 257  # full 16-bit range
    return encode(Image.fromarray(wide), "PNG")


def rgba_png():
    rgba = CHELSEA.convert("RGBA")
    rgba.putalpha(200)
    return encode(rgba, "PNG")


GOOD_VARIANTS = {
    "gif": encode(CHELSEA.convert("P", palette=Image.ADAPTIVE), "GIF"),
    "grayscale jpeg": encode(CHELSEA.convert("L")),
    "cmyk jpeg": encode(CHELSEA.convert("CMYK")),
    "rgba png": rgba_png(),
    "16-bit grayscale png": sixteen_bit_png(),
    "exif-rotated jpeg": exif_rotated_jpeg(),
}


@pytest.mark.parametrize("variant", GOOD_VARIANTS)
def test_every_image_mode_is_classified(server, variant):
    status, _, answer = request(server, "/predict", GOOD_VARIANTS[variant], "POST")
    assert status == 200, answer
    assert answer["predictions"][0]["index"] in CAT_CLASSES


def test_exif_orientation_is_applied(server):
    def scores(jpeg):  # the whole distribution, by class index
        predictions = request(server, "/predict?top_k=1000", jpeg, "POST")[2]["predictions"]
        return np.array([p["score"] for p in sorted(predictions, key=lambda p: p["index"])])

    upright = scores(CHELSEA_JPEG)
    rotated = scores(GOOD_VARIANTS["exif-rotated jpeg"])
    sideways = scores(encode(CHELSEA.transpose(Image.Transpose.ROTATE_90), quality=90))
    # Only JPEG re-encoding separates the EXIF-rotated photo from the upright one.
    assert np.abs(rotated - upright).sum() < 0.1 < np.abs(sideways - upright).sum()


LIMIT = settings.DEFAULTS.max_body_bytes
MiB = 1024 * 1024


def test_declared_body_over_limit_is_413_before_it_is_sent(server):
    # As curl does for large uploads: headers first, body only after "100 Continue". The
    # component answers from Content-Length without reading, so the body never travels.
    conn = http.client.HTTPConnection(urlsplit(server).netloc, timeout=60)
    conn.putrequest("POST", "/predict")
    conn.putheader("Content-Length", str(LIMIT + 1))
    conn.putheader("Expect", "100-continue")
    conn.endheaders()
    response = conn.getresponse()
    assert response.status == 413 and "limit" in json.loads(response.read())["error"]
    conn.close()


def test_streamed_body_over_limit_is_413(server):
    # Chunked, so no Content-Length: the component counts while reading and stops past the limit.
    chunks = (b"\xff" * MiB for _ in range(LIMIT // MiB))
    conn = http.client.HTTPConnection(urlsplit(server).netloc, timeout=60)
    conn.request("POST", "/predict", body=itertools.chain(chunks, [b"\xff"]), encode_chunked=True)
    response = conn.getresponse()
    assert response.status == 413 and "limit" in json.loads(response.read())["error"]
    conn.close()
