"""Every route and error status of the HTTP API, through the real component under `wasmtime serve`."""
import hashlib
import json
import socket
import subprocess
import time
import urllib.error
import urllib.request
import zlib
import struct

import numpy as np
import pytest

from conftest import MODEL, ROOT, WASM, require
from photos import CAT_CLASSES, CHELSEA, CHELSEA_JPEG, COFFEE_JPEG, ESPRESSO, encode

WASMTIME = ROOT / ".venv" / "bin" / "wasmtime"
STARTUP_SECONDS = 120  # the first compile of the component, before wasmtime's cache has it


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    require(WASM, MODEL)
    port = free_port()
    proc = subprocess.Popen(
        [str(WASMTIME), "serve", "--addr", f"127.0.0.1:{port}", "-Scli=y", "-Stcp=n", "-Sudp=n",
         "--dir", f"{MODEL.parent}::/models", "--env", f"MODEL_PATH=/models/{MODEL.name}", str(WASM)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        try:
            urllib.request.urlopen(base + "/healthz", timeout=5)
            break
        except (urllib.error.URLError, ConnectionError):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"wasmtime serve did not start:\n{proc.stdout.read().decode()}")
            time.sleep(0.2)
    yield base
    proc.terminate()
    proc.wait(10)


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


def png_header_claiming(width, height):
    """A PNG whose IHDR declares width x height; no pixel data follows."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + chunk


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
    "60000x60000 png": ("POST", "/predict", png_header_claiming(60000, 60000), 422),
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


def test_body_over_limit_is_413(server):
    status, _, answer = request(server, "/predict", b"\xff" * (10 * 1024 * 1024 + 1), "POST")
    assert status == 413 and "limit" in answer["error"]
