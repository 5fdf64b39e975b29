"""`make serve` under a burst: 256 concurrent clients each post 2 phone-size photos (12 Mpx JPEG,
~3 MB). wasmtime serve holds SERVE_CONCURRENCY requests in flight and queues the rest, so every
answer is a 200 and the server's resident memory stays under a bound whatever the number of
clients (issue 17: without the bound, 500s past ~50 in flight and ~75 MiB more per request).
Throughput, p50/p99 latency and the peak RSS of the server's process tree are printed and
written to build/test-artifacts/load-serving.json. Loopback only."""

import http.client
import io
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
from PIL import Image
from skimage import data

from conftest import ARTIFACTS, serving

pytestmark = pytest.mark.served

CLIENTS, PHOTOS_EACH = 256, 2
RSS_BOUND = 1.5 * 2**30  # bytes: docs/operations.md's bound for `make serve` on this machine
TIMEOUT = 600  # seconds a request may wait in the queue and run: a bound, not a measurement
# A connection reset mid-upload was seen twice in ~3,500 requests on a loaded 2-core machine
# (wasmtime serve logs hyper's IncompleteMessage; cause not found: docs/operations.md, "Not
# explained yet"). Such a failure is no answer at all, so it is counted apart and bounded; every
# answer the server gives must be a 200.
RESETS_ALLOWED = CLIENTS * PHOTOS_EACH // 100


def phone_photo():
    """A 4032x3024 JPEG of ~3 MB, as a phone takes: chelsea upscaled, with sensor-like noise
    (an upscaled photo alone compresses to a third of that)."""
    image = np.asarray(Image.fromarray(data.chelsea()).resize((4032, 3024), Image.BICUBIC), np.int16)
    noise = np.random.default_rng(0).integers(-9, 10, image.shape, dtype=np.int16)
    out = io.BytesIO()
    Image.fromarray(np.clip(image + noise, 0, 255).astype(np.uint8)).save(out, "JPEG", quality=92)
    return out.getvalue()


def stat(pid):
    """/proc/PID/stat's fields after the command name (state, ppid, pgrp, session, ...)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def server_pids(port):
    """The processes of the session (make, the host and its children) of the host serving `port`."""
    procs = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                procs[int(proc.name)] = ((proc / "cmdline").read_bytes().split(b"\0"), stat(proc.name)[3])
            except OSError:
                continue
    named = {f"127.0.0.1:{port}".encode(), str(port).encode()}  # wasmtime's --addr, jco's argument
    sessions = {session for args, session in procs.values() if named & set(args)}
    return {pid for pid, (_, session) in procs.items() if session in sessions}


def rss(pids):
    total = 0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        total += next((int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return total


class PeakRss(threading.Thread):
    """Samples the summed RSS of a process tree every 50 ms until stopped."""

    def __init__(self, pids):
        super().__init__(daemon=True)
        self.pids, self.peak, self.done = pids, 0, threading.Event()

    def run(self):
        while not self.done.wait(0.05):
            self.peak = max(self.peak, rss(self.pids))


def post(netloc, body):
    """(status or the connection's failure, seconds, the start of a non-200 answer) of one POST
    /predict on a new connection."""
    conn = http.client.HTTPConnection(netloc, timeout=TIMEOUT)
    start = time.perf_counter()
    try:
        conn.request("POST", "/predict?top_k=1", body=body, headers={"Content-Type": "image/jpeg"})
        response = conn.getresponse()
        answer = response.read()
        return response.status, time.perf_counter() - start, answer[:300] if response.status != 200 else b""
    except OSError as e:  # counted, so that the report shows every answer
        return repr(e), time.perf_counter() - start, b""
    finally:
        conn.close()


def test_burst_of_phone_photos_all_200_within_memory_bound():
    photo = phone_photo()
    with serving() as base:
        netloc = urlsplit(base).netloc
        pids = server_pids(netloc.rsplit(":", 1)[1])
        assert pids, "no server process found"
        assert post(netloc, photo)[0] == 200  # warm: the compiled component is loaded
        sampler = PeakRss(pids)
        sampler.start()
        go = threading.Barrier(CLIENTS)

        def client(_):
            go.wait(TIMEOUT)
            return [post(netloc, photo) for _ in range(PHOTOS_EACH)]

        started = time.perf_counter()
        with ThreadPoolExecutor(CLIENTS) as pool:
            results = [r for answers in pool.map(client, range(CLIENTS)) for r in answers]
        elapsed = time.perf_counter() - started
        sampler.done.set()
        sampler.join()
    statuses = {}
    for status, _, _ in results:
        statuses[status] = statuses.get(status, 0) + 1
    seconds = np.array([s for _, s, _ in results])
    report = {
        "clients": CLIENTS,
        "requests": len(results),
        "photo_bytes": len(photo),
        "statuses": statuses,
        "throughput_rps": round(len(results) / elapsed, 2),
        "p50_s": round(float(np.percentile(seconds, 50)), 2),
        "p99_s": round(float(np.percentile(seconds, 99)), 2),
        "peak_rss_mib": round(sampler.peak / 2**20),
        "seconds": round(elapsed, 1),
    }
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "load-serving.json").write_text(json.dumps(report, indent=1))
    print(f"\nmake serve under {CLIENTS} clients x {PHOTOS_EACH} photos: {report}", file=sys.stderr)
    failures = [(s, body) for s, _, body in results if isinstance(s, int) and s != 200]
    assert not failures, f"{len(failures)} answers other than 200, e.g. {failures[:3]}"
    resets = [s for s, _, _ in results if not isinstance(s, int)]
    assert len(resets) <= RESETS_ALLOWED, f"{len(resets)} connections failed without an answer, e.g. {resets[:3]}"
    assert sampler.peak <= RSS_BOUND, f"peak RSS {sampler.peak / 2**20:.0f} MiB over {RSS_BOUND / 2**20:.0f} MiB"
