"""KServe's own Python client (the `kserve` package's InferenceRESTClient, protocol v2)
classifies through /v2 of `make serve`: the image as binary tensor data and as base64 JSON, the
probabilities those of POST /predict. The client runs in its own venv (tests/kserve/)."""

import json
import subprocess
import urllib.request

import pytest

from conftest import ROOT, serving
from photos import CAT_CLASSES, CHELSEA_JPEG

pytestmark = pytest.mark.served

VENV_PYTHON = ROOT / "build" / "kserve-venv" / "bin" / "python"


def test_kserve_rest_client_classifies_through_v2(tmp_path):
    subprocess.run(["make", "-s", "kserve-client"], cwd=ROOT, check=True, timeout=900)
    photo = tmp_path / "chelsea.jpg"
    photo.write_bytes(CHELSEA_JPEG)
    with serving() as base:
        run = subprocess.run(
            [str(VENV_PYTHON), str(ROOT / "tests" / "kserve" / "classify.py"), base, "efficientnet-lite0", str(photo)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert run.returncode == 0, run.stderr[-3000:]
        request = urllib.request.Request(f"{base}/predict?top_k=1", CHELSEA_JPEG, {"Content-Type": "image/jpeg"})
        with urllib.request.urlopen(request, timeout=120) as answer:
            [expected] = json.load(answer)["predictions"]
    answers = [json.loads(line) for line in run.stdout.splitlines()]
    assert [a["binary"] for a in answers] == [True, False]
    for answer in answers:
        assert answer["output"] == "probabilities" and answer["shape"] == [1, 1000]
        best = max(range(1000), key=answer["probabilities"].__getitem__)
        assert best == expected["index"] and best in CAT_CLASSES
        assert abs(answer["probabilities"][best] - expected["score"]) < 1e-6
