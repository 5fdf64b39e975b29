"""GET /openapi.json (component/openapi.py): natively, the document covers every route of
api.py's table; against `make serve`, stock schemathesis fuzzes every operation: no 5xx, every
answer (status, content type, headers, body) conforming to the document."""

import json
import subprocess
import sys

import pytest

from conftest import ARTIFACTS, ROOT, serving

import api

ST = ROOT / ".venv" / "bin" / "st"
# positive_data_acceptance wants a 2xx for every body the schema allows, and a schema cannot say
# which bytes decode as an image: schemathesis's random "images" are rightly 400s.
CHECKS = ["--checks", "all", "--exclude-checks", "positive_data_acceptance"]
EXAMPLES = 25  # per operation and phase: ~1,300 requests, under a minute on 2 cores


def test_document_covers_every_route_with_head_and_options():
    document = json.loads(api.OPENAPI_JSON)
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == set(api.ROUTES)
    for path, methods in api.ROUTES.items():
        item = document["paths"][path]
        expected = {m.lower() for m in methods} | {"options"} | ({"head"} if "GET" in methods else set())
        assert expected <= set(item), path
        for method in methods:
            assert "200" in item[method.lower()]["responses"]
    response = api.handle(api.Request("GET", "/openapi.json", {}))
    assert response.status == 200 and response.body == api.OPENAPI_JSON  # made once, served as is


@pytest.mark.served
def test_schemathesis_finds_nothing_on_any_operation(capsys, tmp_path):
    with serving() as base:
        run = subprocess.run(
            [
                str(ST),
                "run",
                f"{base}/openapi.json",
                *CHECKS,
                "--max-examples",
                str(EXAMPLES),
                "--seed",
                "1",
                "--no-color",
                "--request-timeout",
                "60",
            ],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=tmp_path,
        )  # its .schemathesis/ there
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "schemathesis.txt").write_text(run.stdout + run.stderr)
    summary = run.stdout[run.stdout.rfind("SUMMARY") :]
    with capsys.disabled():
        print(f"\nschemathesis against {base}:\n{summary}", file=sys.stderr)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    operations = sum(len(set(item) - {"parameters"}) for item in json.loads(api.OPENAPI_JSON)["paths"].values())
    # Every operation but GET /openapi.json, which the CLI leaves out as the schema's own URL
    # (it has loaded and validated it by then).
    assert f"Selected: {operations - 1}/{operations - 1}" in summary and f"Tested: {operations - 1}" in summary, summary
