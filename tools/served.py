"""`make serve` (or another make target that serves) on a free port, for as long as a block
runs: the tests' HTTP servers and bench's.

    with make_served("serve", "jco", log_dir=folder) as (base, log):   # once it answers
        ...
"""

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STARTUP_SECONDS = 120  # the first compile of the component, before the host's cache has it


class NotServing(RuntimeError):
    """The server exited or did not answer in time; the message carries its output."""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def make_served(target, host, *make_args, log_dir, name=None, path="/healthz"):
    """Runs `make TARGET RUNTIME=host PORT=<free> MAKE_ARGS`, its output into log_dir/NAME-HOST-PORT.log
    (a pipe nobody reads would fill and stall it); yields ("http://127.0.0.1:PORT", the log)
    once PATH answers at all."""
    port = free_port()
    log = log_dir / f"{name or target}-{host}-{port}.log"
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            ["make", "-s", target, f"RUNTIME={host}", f"PORT={port}", *make_args],
            cwd=ROOT,
            start_new_session=True,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        try:
            urllib.request.urlopen(base + path, timeout=5)
            break
        except urllib.error.HTTPError:  # it answers: up
            break
        except (urllib.error.URLError, ConnectionError):
            if proc.poll() is not None or time.monotonic() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
                raise NotServing(f"make {target} RUNTIME={host} did not start:\n{log.read_text()}") from None
            time.sleep(0.2)
    try:
        yield base, log
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)
