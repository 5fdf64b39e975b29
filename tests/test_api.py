"""component/api.py natively (no wasm, no server): routes, statuses, HEAD, request ids, the
error policy. The same code runs inside the component; tests/test_http.py drives it there."""

import json

import pytest

from conftest import MODEL, require
from photos import CAT_CLASSES, CHELSEA_JPEG

import api
import errors
import web


@pytest.fixture(autouse=True)
def model(configure):
    require(MODEL)
    configure(MODEL_PATH=str(MODEL))


def answer(method, target, body=b"", headers=None):
    """(status, headers dict, parsed JSON or raw bytes, the Response)."""
    headers = {k.lower(): [v] for k, v in (headers or {}).items()}
    response = api.handle(api.Request(method, target, headers, lambda limit: body))
    parsed = json.loads(response.body) if response.content_type == "application/json" else response.body
    return response.status, dict(response.headers), parsed, response


def test_predict_natively():
    status, _, result, _ = answer("POST", "/predict?top_k=3", CHELSEA_JPEG)
    assert status == 200 and len(result["predictions"]) == 3
    assert result["predictions"][0]["index"] in CAT_CLASSES


@pytest.mark.parametrize("target", ["//predict", "/predict/", "/%70redict", "//predict//?top_k=1"])
def test_paths_are_normalised(target):
    status, _, result, _ = answer("POST", target, CHELSEA_JPEG)
    assert status == 200, result


def test_unknown_route_echoes_a_capped_path():
    long_path = "/" + "x" * 60000
    status, _, result, response = answer("GET", long_path)
    assert status == 404 and "no route" in result["error"]
    assert len(response.body) < 400


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PUT", "DELETE", "PATCH", "BREW"])
def test_other_methods_are_named_in_the_405(method):
    status, headers, result, _ = answer(method, "/predict")
    assert status == 405 and headers["allow"] == "POST, OPTIONS"
    assert repr(method) in result["error"]


def test_head_is_get_without_the_body():
    for path in ["/", "/healthz", "/model"]:
        got = answer("GET", path)[3]
        head = answer("HEAD", path)[3]
        assert head.status == got.status == 200
        assert head.body == got.body and not head.send_body and got.send_body
    status, headers, _, _ = answer("HEAD", "/predict")
    assert status == 405 and headers["allow"] == "POST, OPTIONS"
    assert answer("DELETE", "/healthz")[1]["allow"] == "GET, HEAD, OPTIONS"
    assert answer("DELETE", "/")[1]["allow"] == "GET, POST, HEAD, OPTIONS"  # POST /: hf.py


@pytest.mark.parametrize(
    "query,fragment",
    [("top_k=0", "positive"), ("top_k=-2", "positive"), ("top_k=zero", "'zero'"), ("top_k=" + "9" * 500, None)],
)
def test_top_k(query, fragment):
    status, _, result, _ = answer("POST", "/predict?" + query, CHELSEA_JPEG)
    if fragment is None:  # far more than the model has classes: all of them
        assert status == 200 and len(result["predictions"]) == 1000
    else:
        assert status == 400 and fragment in result["error"]


def test_request_ids():
    _, headers, _, _ = answer("GET", "/healthz", headers={"X-Request-Id": "abc-123"})
    assert headers["x-request-id"] == "abc-123"
    fresh = {answer("GET", "/healthz")[1]["x-request-id"] for _ in range(3)}
    assert len(fresh) == 3 and all(len(i) == 32 for i in fresh)
    # Not echoed when it could break a header or a log line.
    for bad in ["a\nb", "x" * 200, "caf\u00e9"]:
        assert answer("GET", "/healthz", headers={"x-request-id": bad})[1]["x-request-id"] != bad


def status_and_case(error):
    failure = errors.policy(error)
    return failure.status, failure.case


def test_the_policy_table_decides_statuses():
    assert status_and_case(errors.UnsupportedFormat("AVIF")) == (415, "unsupported-format")
    assert status_and_case(errors.BadImage("x")) == (400, "not-an-image")
    assert status_and_case(MemoryError()) == (503, "out-of-memory")
    assert status_and_case(KeyError("k")) == (500, "internal")
    # An HttpError keeps its status; the typed interface calls it a bad request, not a bug.
    assert status_and_case(api.BodyTooLarge(1024)) == (413, "bad-request")
    assert errors.policy(api.HttpError(405, "no", [("allow", "GET")])).headers == (("allow", "GET"),)


def test_a_bug_is_a_500_with_the_request_id_and_a_traceback_in_the_log(monkeypatch, capsys):
    def broken(request):
        raise KeyError("surprise")

    monkeypatch.setitem(api.ROUTES, "/healthz", {"GET": broken})
    status, headers, result, _ = answer("GET", "/healthz")
    assert status == 500 and "surprise" not in result["error"]
    assert headers["x-request-id"] in result["error"]
    log = capsys.readouterr().err
    assert "KeyError: 'surprise'" in log and headers["x-request-id"] in log


def test_integers_in_headers_and_settings_are_ascii_decimal(configure):
    """One parser (web.decimal) for Content-Length, Inference-Header-Content-Length and the
    settings: "²".isdigit() is True, but it is not a number of bytes."""
    assert [web.decimal(t) for t in ["0", "42", "", "²", "\u0661\u0662", "-1", "1.5", " 7"]] == [
        0,
        42,
        None,
        None,
        None,
        None,
        None,
        None,
    ]
    require(MODEL)
    configure(MODEL_PATH=str(MODEL))
    answer = api.handle(
        api.Request(
            "POST",
            "/v2/models/efficientnet-lite0/infer",
            {"inference-header-content-length": ["²"]},
            lambda limit: b"{}",
        )
    )
    assert answer.status == 400 and "must be a number of bytes" in json.loads(answer.body)["error"]
