"""`make image` (Dockerfile, deploy/container/): the OCI image builds with podman from what make
built, is small, serves the same .wasm with `make serve`'s flags, and answers the smoke test
(GET /healthz, POST /predict of a photo) on a loopback port."""

import json
import os
import re
import shlex
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from conftest import ROOT, STARTUP_SECONDS, WASM, free_port, require
from photos import CAT_CLASSES, CHELSEA_JPEG

pytestmark = pytest.mark.served

TAG = "localhost/image-classifier:test"
SIZE_GOAL = 120 * 10**6  # bytes, as podman counts them (uncompressed layers)
CONF = ROOT / "build" / "container" / "containers.conf"  # written by deploy/container/podman.sh


def podman(*args, **kwargs):
    return subprocess.run(
        ["podman", *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "CONTAINERS_CONF": str(CONF)},
        **kwargs,
    ).stdout


@pytest.fixture(scope="module")
def image():
    require(WASM)
    build = subprocess.run(
        ["make", "-s", "image", f"IMAGE_TAG={TAG}"], cwd=ROOT, capture_output=True, text=True, timeout=900
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    return TAG


def entrypoint():
    """The Dockerfile's ENTRYPOINT, as a list."""
    text = (ROOT / "Dockerfile").read_text()
    return json.loads(re.search(r"^ENTRYPOINT (\[.*?\])$", text, re.M | re.S).group(1).replace("\\\n", ""))


def test_image_runs_make_serves_flags():
    made = shlex.split(
        subprocess.run(
            ["make", "-s", "-n", "serve-wasm", "SERVE_WASM=app.wasm"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    flags = lambda args: [a for a in args[2:] if a not in ("--addr", "0.0.0.0:3000", "127.0.0.1:3000")]  # noqa: E731
    assert entrypoint()[:2] == ["/usr/bin/wasmtime", "serve"]
    image_flags = [a for a in flags(entrypoint()) if a != "/app/classifier.wasm"]
    # The image adds only: no compilation cache (no writable home) and the container's environment.
    assert [a for a in image_flags if a not in ("-Ccache=n", "-Sinherit-env=y")] == [
        a for a in flags(made) if a != "app.wasm"
    ]


def test_image_is_small(image):
    size = int(podman("image", "inspect", "--format", "{{.Size}}", image).strip())
    print(f"\n{image}: {size / 1e6:.1f} MB")
    assert size < SIZE_GOAL


def test_image_serves_the_smoke_test(image):
    port = free_port()
    name = f"classifier-test-{port}"
    podman("run", "-d", "--rm", "--name", name, "-p", f"127.0.0.1:{port}:3000", image)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=5) as answer:
                    assert answer.status == 200 and json.load(answer) == {"status": "ok"}
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, podman("logs", name)
                time.sleep(0.5)
        request = urllib.request.Request(base + "/predict", CHELSEA_JPEG, {"Content-Type": "image/jpeg"})
        with urllib.request.urlopen(request, timeout=120) as answer:
            assert answer.status == 200 and json.load(answer)["predictions"][0]["index"] in CAT_CLASSES
    finally:
        subprocess.run(
            ["podman", "rm", "-f", name],
            capture_output=True,
            timeout=60,
            env={**os.environ, "CONTAINERS_CONF": str(CONF)},
        )
