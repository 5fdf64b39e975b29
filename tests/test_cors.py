"""CORS: natively through api.handle for every case, then a page on another origin in Chromium
calling `make serve CORS_ORIGINS=...` (multipart, and the Open Inference Protocol with its
preflighted headers), and the same page refused from an origin not listed."""

import base64
import functools
import http.server
import threading

import pytest

from conftest import MODEL, free_port, require, serving
from photos import CAT_CLASSES, CHELSEA_JPEG

import api

ALLOWED = "https://app.example"


@pytest.fixture(autouse=True)
def model(configure):
    require(MODEL)
    configure(MODEL_PATH=str(MODEL))


def answer(method, target, headers=None, body=b""):
    headers = {k.lower(): [v] for k, v in (headers or {}).items()}
    response = api.handle(api.Request(method, target, headers, lambda limit: body))
    return response.status, dict(response.headers)


def cors_headers(headers):
    return {k: v for k, v in headers.items() if k.startswith("access-control-") or k == "vary"}


PREFLIGHT = {
    "Origin": ALLOWED,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "content-type, inference-header-content-length",
}


def test_off_by_default():
    status, headers = answer("OPTIONS", "/predict", PREFLIGHT)
    assert status == 204 and headers["allow"] == "POST, OPTIONS" and cors_headers(headers) == {}
    assert cors_headers(answer("GET", "/healthz", {"Origin": ALLOWED})[1]) == {}
    assert answer("OPTIONS", "/v2/models/x/ready")[1]["allow"] == "GET, HEAD, OPTIONS"
    assert answer("OPTIONS", "/nowhere")[0] == 404


def test_preflight_from_an_allowed_origin(configure):
    configure(MODEL_PATH=str(MODEL), CORS_ORIGINS=f"http://localhost:8080, {ALLOWED}", CORS_MAX_AGE="120")
    status, headers = answer("OPTIONS", "/v2/models/efficientnet-lite0/infer", PREFLIGHT)
    assert status == 204
    assert cors_headers(headers) == {
        "access-control-allow-origin": ALLOWED,
        "access-control-allow-methods": "POST, OPTIONS",
        "access-control-allow-headers": "content-type, inference-header-content-length, x-request-id",
        "access-control-max-age": "120",
        "vary": "Origin",
    }


def test_answers_to_allowed_origins_only(configure):
    configure(MODEL_PATH=str(MODEL), CORS_ORIGINS=ALLOWED)
    _, headers = answer("POST", "/predict?top_k=1", {"Origin": ALLOWED}, CHELSEA_JPEG)
    assert headers["access-control-allow-origin"] == ALLOWED and headers["vary"] == "Origin"
    assert "x-request-id" in headers["access-control-expose-headers"]
    status, headers = answer("POST", "/predict", {"Origin": ALLOWED}, b"not an image")
    assert status == 400 and headers["access-control-allow-origin"] == ALLOWED  # scripts read errors too
    for origin in ["https://evil.example", "https://app.example.evil", "http://app.example", "null"]:
        status, headers = answer("OPTIONS", "/predict", {**PREFLIGHT, "Origin": origin})
        assert status == 204 and cors_headers(headers) == {"vary": "Origin"}, origin
        assert cors_headers(answer("GET", "/healthz", {"Origin": origin})[1]) == {"vary": "Origin"}


def test_any_origin(configure):
    configure(MODEL_PATH=str(MODEL), CORS_ORIGINS="*")
    _, headers = answer("GET", "/model", {"Origin": "https://anyone.example"})
    assert headers["access-control-allow-origin"] == "*" and "vary" not in headers
    assert "access-control-allow-origin" not in answer("GET", "/model")[1]  # no Origin, no CORS


@pytest.mark.parametrize("value", ["app.example", "https://app.example/", "ftp://app.example", "https://"])
def test_a_bad_origin_setting_is_a_503_naming_it(configure, value):
    configure(MODEL_PATH=str(MODEL), CORS_ORIGINS=value)
    status, _ = answer("GET", "/healthz")
    assert status == 503
    response = api.handle(api.Request("GET", "/v2/health/ready", {}))
    assert response.status == 503 and b"CORS_ORIGINS" in response.body


# --- a page on another origin, in Chromium ----------------------------------------------------


@pytest.fixture(scope="module")
def origins(tmp_path_factory):
    """A page server: its origin (configured) and the same page under another origin (not)."""
    folder = tmp_path_factory.mktemp("page")
    (folder / "index.html").write_text("<!doctype html><title>another origin</title>")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    port = free_port()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{port}", f"http://localhost:{port}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def cors_server(origins):
    with serving(f"CORS_ORIGINS={origins[0]}") as base:
        yield base


CALLS = """async ([base, jpeg]) => {
  const bytes = Uint8Array.from(atob(jpeg), c => c.charCodeAt(0));
  const form = new FormData();
  form.append("image", new Blob([bytes], {type: "image/jpeg"}), "cat.jpg");
  const predicted = await fetch(base + "/predict?top_k=1", {method: "POST", body: form});
  const prediction = await predicted.json();
  // The Open Inference Protocol in JSON (preflighted: Content-Type application/json)...
  const head = JSON.stringify({id: "page", inputs: [{name: "image", datatype: "BYTES", shape: [1], data: [jpeg]}],
                               outputs: [{name: "probabilities", parameters: {classification: 1}}]});
  const json = await (await fetch(base + "/v2/models/efficientnet-lite0/infer",
                                  {method: "POST", headers: {"Content-Type": "application/json"}, body: head})).json();
  // ...and binary, with the Inference-Header-Content-Length header both ways.
  const binaryHead = new TextEncoder().encode(JSON.stringify({inputs: [{name: "image", datatype: "BYTES", shape: [1],
      parameters: {binary_data_size: bytes.length + 4}}], parameters: {binary_data_output: true}}));
  const length = new Uint8Array(new Uint32Array([bytes.length]).buffer);
  const binary = await fetch(base + "/v2/models/efficientnet-lite0/infer", {method: "POST",
      headers: {"Inference-Header-Content-Length": String(binaryHead.length)},
      body: new Blob([binaryHead, length, bytes])});
  const body = new Uint8Array(await binary.arrayBuffer());
  const headLength = Number(binary.headers.get("Inference-Header-Content-Length"));
  const probabilities = new Float32Array(body.slice(headLength).buffer);
  return {id: predicted.headers.get("x-request-id"), index: prediction.predictions[0].index,
          classification: json.outputs[0].data[0], json_id: json.id,
          best: probabilities.indexOf(Math.max(...probabilities)), classes: probabilities.length};
}"""


def test_a_page_on_an_allowed_origin_calls_the_api(cors_server, origins, browser_page):
    page, errors = browser_page
    page.goto(origins[0] + "/index.html")
    got = page.evaluate(CALLS, [cors_server, base64.b64encode(CHELSEA_JPEG).decode()])
    assert got["id"] and got["index"] in CAT_CLASSES and got["json_id"] == "page"
    assert int(got["classification"].split(":")[1]) in CAT_CLASSES
    assert got["classes"] == 1000 and got["best"] in CAT_CLASSES
    assert errors == []


def test_a_page_on_another_origin_is_refused(cors_server, origins, browser_page):
    page, _ = browser_page
    call = """async base => {
      try { await fetch(base + "/healthz"); return "answered"; } catch (e) { return e.name; }
    }"""
    page.goto(origins[1] + "/index.html")
    assert page.evaluate(call, cors_server) == "TypeError"  # no Access-Control-Allow-Origin for it
    page.goto(origins[0] + "/index.html")
    assert page.evaluate(call, cors_server) == "answered"
