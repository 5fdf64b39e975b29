"""Hostile inputs and odd clients against the real component, through `make serve` (the
`server` fixture) and through the host/ harness: the corpus and the seeded mutants of
tests/corpus.py, HEAD, clients that hang up, lie about Content-Length, stall, or send 32 MiB.

Every answer is JSON with the status the corpus says (mutants: any 2xx/4xx), nothing that
looks like a trap appears in the server's log, and the next good image is classified."""

import http.client
import json
import os
import re
import signal
import socket
import struct
import subprocess
import threading
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import pytest

import corpus
from conftest import JCO_NODE_ANSWERS_SHORT_BODY, MODEL, ROOT, STARTUP_SECONDS, free_port, require, xfail_on
from host.classifier import ClassifyError, ComponentClassifier
from host.runtime import Grants
from photos import CHELSEA_JPEG, COFFEE_JPEG, ESPRESSO
from tools.probe import probe_wasm

import settings

# What wasmtime serve writes when an instance traps or its guest panics (seen by provoking one:
# test_trap_signs_are_what_a_trap_writes), rather than ending its request; and what the jco host
# (jco/serve.mjs) writes then.
TRAP_SIGNS = ("worker failed", "wasm trap", "panicked at", "guest never invoked", "jco host: request trapped")
TIMEOUT = 120
MUTANTS = 280  # 35 of each seed format
BODY_SECONDS = settings.DEFAULTS.body_seconds


def traps(log):
    return [line for line in log.splitlines() if any(sign in line for sign in TRAP_SIGNS)]


@pytest.fixture
def no_traps(server):
    """Fails the test if the server's log gains a sign of a trap while it runs."""
    start = len(server.log_text())
    yield
    assert traps(server.log_text()[start:]) == []


def post(server, body, path="/predict"):
    """(status, parsed JSON) of one POST; the body must be JSON whatever the status."""
    try:
        with urllib.request.urlopen(urllib.request.Request(server + path, body, method="POST"), timeout=TIMEOUT) as r:
            status, raw, kind = r.status, r.read(), r.headers["content-type"]
    except urllib.error.HTTPError as e:
        status, raw, kind = e.code, e.read(), e.headers["content-type"]
    assert kind == "application/json", (status, raw[:200])
    return status, json.loads(raw)


def good_image_is_classified(server):
    status, answer = post(server, COFFEE_JPEG)
    return status == 200 and answer["predictions"][0]["index"] == ESPRESSO


CORPUS = corpus.build()


@pytest.mark.parametrize("name", list(CORPUS))
def test_corpus_through_make_serve(server, no_traps, name):
    case = CORPUS[name]
    status, answer = post(server, case.data)
    assert status == case.status, answer
    if status == 200:
        assert len(answer["predictions"]) == 5
    else:
        assert case.says in answer["error"]
        assert good_image_is_classified(server)


@pytest.fixture(scope="module")
def harness():
    require(MODEL)
    return ComponentClassifier()


def classify_kind(harness, data):
    """None when classified, else the error case; and the error message."""
    try:
        harness.classify(data)
        return None, ""
    except ClassifyError as e:
        return e.kind, str(e)


@pytest.mark.parametrize("name", list(CORPUS))
def test_corpus_through_the_harness(harness, name):
    case = CORPUS[name]
    kind, message = classify_kind(harness, case.data)
    assert kind == corpus.STATUS_CASE[case.status] and case.says in message, message
    if kind is not None:  # the harness keeps its instance: the failure must not poison it
        assert harness.classify(COFFEE_JPEG, 1)[0]["index"] == ESPRESSO


@pytest.mark.component
def test_an_image_too_big_for_the_instances_memory_is_a_422_and_the_instance_goes_on():
    require(MODEL)
    small = ComponentClassifier(grants=Grants(memory_limit=192 << 20))  # the model alone takes ~70 MiB
    kind, message = classify_kind(small, CORPUS["6300x6300 rgba png"].data)
    assert kind == "image-too-large" and "more memory" in message, message
    assert small.classify(COFFEE_JPEG, 1)[0]["index"] == ESPRESSO


def complete(answer):
    """Whether raw HTTP answer bytes hold the head and all the body its Content-Length declares."""
    head, found, body = answer.partition(b"\r\n\r\n")
    length = re.search(rb"(?im)^content-length: *(\d+)", head)
    return bool(found) and len(body) >= (int(length.group(1)) if length else 0)


def stalled_client(netloc, outcome):
    """Declares 1000 bytes, sends 10 and waits: the answer and how long it took."""
    started = time.monotonic()
    with socket.create_connection(netloc, timeout=BODY_SECONDS + 60) as s:
        s.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + bytes(10))
        # The whole answer: a host may send the head and the body in separate segments (Node does).
        answer = b""
        while not complete(answer) and (chunk := s.recv(65536)):
            answer += chunk
        outcome["answer"] = answer
    outcome["seconds"] = time.monotonic() - started


def test_mutants_through_make_serve_beside_a_stalled_client(server, no_traps):
    netloc = urlsplit(server).netloc.split(":")
    stalled = {}
    waiting = threading.Thread(target=stalled_client, args=((netloc[0], int(netloc[1])), stalled))
    waiting.start()
    statuses, wrong = {}, []
    for i, (name, data) in enumerate(corpus.mutants(MUTANTS)):
        status, answer = post(server, data)
        statuses[status] = statuses.get(status, 0) + 1
        if status not in corpus.STATUS_CASE:
            wrong.append((name, status, answer))
        if i % 10 == 9 and not good_image_is_classified(server):
            wrong.append((name, "the next good image failed"))
    print("mutants through make serve:", statuses)
    assert wrong == [] and statuses.get(200, 0) > 20 and statuses.get(400, 0) > 20
    waiting.join(BODY_SECONDS + 60)
    # The stalled client held nobody up, and got its 408 once the body deadline passed.
    assert stalled["answer"].startswith(b"HTTP/1.1 408") and b'"error"' in stalled["answer"]
    assert BODY_SECONDS - 1 < stalled["seconds"] < BODY_SECONDS + 30


def test_mutants_through_the_harness(harness):
    kinds, wrong = {}, []
    for name, data in corpus.mutants(MUTANTS):
        kind, message = classify_kind(harness, data)
        kinds[kind] = kinds.get(kind, 0) + 1
        if kind not in corpus.STATUS_CASE.values():
            wrong.append((name, kind, message))
    assert harness.classify(COFFEE_JPEG, 1)[0]["index"] == ESPRESSO
    print("mutants through the harness:", kinds)
    assert wrong == [] and kinds.get(None, 0) > 20


# --- odd clients -----------------------------------------------------------------------------
def connect(server):
    host, port = urlsplit(server).netloc.split(":")
    return socket.create_connection((host, int(port)), timeout=TIMEOUT)


def read_answer(sock):
    """(status, headers, body) of the HTTP answer on a raw socket, read to its end."""
    raw = b""
    while chunk := sock.recv(65536):
        raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value for name, value in (line.split(": ", 1) for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def test_head_is_answered_without_a_body_everywhere(server, no_traps):
    netloc = urlsplit(server).netloc
    for path, status in [("/", 200), ("/healthz", 200), ("/model", 200), ("/predict", 405), ("/nowhere", 404)]:
        with connect(server) as s:  # raw, to see that no body bytes follow the headers
            s.sendall(f"HEAD {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            head_status, headers, head_body = read_answer(s)
        assert (head_status, head_body) == (status, b""), path
        assert headers["content-type"] and int(headers["content-length"]) > 0
        if path in ("/", "/healthz"):  # the headers describe GET's body
            conn = http.client.HTTPConnection(netloc, timeout=TIMEOUT)
            conn.request("GET", path)
            assert int(headers["content-length"]) == len(conn.getresponse().read())
            conn.close()
        if status == 405:
            assert headers["allow"] == "POST, OPTIONS"
    assert good_image_is_classified(server)


def time_of_a_slow_request(server):
    started = time.monotonic()
    assert post(server, CORPUS["6300x6300 rgba png"].data)[0] == 200
    return time.monotonic() - started


def test_clients_that_hang_up_end_their_requests_quietly(server, no_traps):
    slow = CORPUS["6300x6300 rgba png"].data
    seconds = time_of_a_slow_request(server)
    request = b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(slow)
    with connect(server) as s:  # gone halfway through its body
        s.sendall(request + slow[: len(slow) // 2])
    with connect(server) as s:  # gone while the image is being classified
        s.sendall(request + slow)
        time.sleep(seconds / 4)
    with connect(server) as s:  # reset (RST) rather than closed, while it is being classified
        s.sendall(request + slow)
        time.sleep(seconds / 4)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    time.sleep(seconds + 2)  # the abandoned requests have ended by now
    assert good_image_is_classified(server)


def test_a_body_shorter_than_its_content_length_is_a_400(server, no_traps, request):
    xfail_on(request, server, "jco", JCO_NODE_ANSWERS_SHORT_BODY)
    with connect(server) as s:
        s.sendall(
            b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (len(CHELSEA_JPEG) + 1000)
            + CHELSEA_JPEG
        )
        s.shutdown(socket.SHUT_WR)
        status, headers, body = read_answer(s)
    assert status == 400 and headers["content-type"] == "application/json"
    assert "ended early" in json.loads(body)["error"]
    assert good_image_is_classified(server)


def test_a_python_client_sending_32_mib_reads_the_413(server, no_traps, request):
    status, answer = post(server, bytes(32 * 1024 * 1024))  # urllib sends it all before reading
    assert status == 413 and "limit" in answer["error"]
    assert good_image_is_classified(server)


# --- what a trap looks like ------------------------------------------------------------------
@pytest.mark.served
def test_trap_signs_are_what_a_trap_writes(tmp_path):
    """A probe served like the classifier, made to trap on purpose (an exception that is no
    Exception escapes its handler: componentize-py's runtime panics, the instance traps)."""
    port, log = free_port(), tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            ["make", "-s", "serve-wasm", f"SERVE_WASM={probe_wasm()}", f"PORT={port}"],
            cwd=ROOT,
            start_new_session=True,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                if urllib.request.urlopen(base, b"result = b'up'", timeout=10).read() == b"up":
                    break
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.3)
        assert traps(log.read_text()) == []
        with pytest.raises(urllib.error.HTTPError) as trapped:
            urllib.request.urlopen(base, b"raise KeyboardInterrupt", timeout=60)
        assert trapped.value.code == 500 and trapped.value.headers["content-type"].startswith("text/html")
        time.sleep(0.5)
        assert traps(log.read_text())
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
