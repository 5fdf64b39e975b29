"""Concurrent clients against each HTTP host: every good photo gets 200 and the right top-1
while another client sends garbage and gets 400s. Latency and throughput are reported (printed
and written to build/test-artifacts/load-HOST.json), never asserted."""

import http.client
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import numpy as np

from conftest import ROOT
from photos import CAT_CLASSES, CHELSEA_JPEG, COFFEE_JPEG, ESPRESSO

CLIENTS, REQUESTS = 4, 10  # good clients x requests each
BAD_REQUESTS = 10
TIMEOUT = 180  # seconds, per request: a bound, not a measurement
PHOTOS = [(CHELSEA_JPEG, CAT_CLASSES), (COFFEE_JPEG, {ESPRESSO})]
GARBAGE = [np.random.default_rng(seed).integers(0, 256, 4000, dtype=np.uint8).tobytes() for seed in range(BAD_REQUESTS)]


def post(netloc, body):
    """(status, parsed JSON, seconds) of one POST /predict on a new connection."""
    conn = http.client.HTTPConnection(netloc, timeout=TIMEOUT)
    try:
        start = time.perf_counter()
        conn.request("POST", "/predict", body=body, headers={"Content-Type": "image/jpeg"})
        response = conn.getresponse()
        raw = response.read()
        return response.status, json.loads(raw), time.perf_counter() - start
    finally:
        conn.close()


def test_concurrent_clients_all_succeed_beside_bad_inputs(server, capsys):
    netloc = urlsplit(server).netloc
    assert netloc.startswith("127.0.0.1:")
    go = threading.Barrier(CLIENTS + 2)  # the good clients, the bad one and the timer

    def good_client(n):
        go.wait(TIMEOUT)
        answers = []
        for i in range(REQUESTS):
            body, expected = PHOTOS[(n + i) % len(PHOTOS)]
            status, answer, seconds = post(netloc, body)
            top1 = answer["predictions"][0]["index"] if status == 200 else None
            answers.append((status, top1 in expected, seconds, answer if status != 200 else None))
        return answers

    def bad_client():
        go.wait(TIMEOUT)
        return [post(netloc, body)[:2] for body in GARBAGE]

    with ThreadPoolExecutor(CLIENTS + 1) as pool:
        bad = pool.submit(bad_client)
        good = [pool.submit(good_client, n) for n in range(CLIENTS)]
        go.wait(TIMEOUT)
        start = time.perf_counter()
        results = [a for f in good for a in f.result(TIMEOUT * REQUESTS)]
        wall = time.perf_counter() - start
        bad_results = bad.result(TIMEOUT * BAD_REQUESTS)

    assert len(results) == CLIENTS * REQUESTS
    failures = [(status, answer) for status, right, _, answer in results if status != 200 or not right]
    assert failures == []
    assert [status for status, _ in bad_results] == [400] * BAD_REQUESTS
    assert all(answer["error"] for _, answer in bad_results)

    ms = np.array([seconds for _, _, seconds, _ in results]) * 1000
    report = {
        "host": server.host,
        "clients": CLIENTS,
        "requests": len(results),
        "bad_requests": BAD_REQUESTS,
        "p50_ms": round(float(np.percentile(ms, 50)), 1),
        "p95_ms": round(float(np.percentile(ms, 95)), 1),
        "max_ms": round(float(ms.max()), 1),
        "requests_per_s": round(len(results) / wall, 2),
        "wall_s": round(wall, 2),
    }
    artifacts = ROOT / "build" / "test-artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    (artifacts / f"load-{server.host}.json").write_text(json.dumps(report, indent=2) + "\n")
    with capsys.disabled():
        print(
            f"\nload on {server.host}: {CLIENTS} clients x {REQUESTS} requests (+{BAD_REQUESTS} bad): "
            f"p50 {report['p50_ms']} ms, p95 {report['p95_ms']} ms, "
            f"{report['requests_per_s']} requests/s"
        )
