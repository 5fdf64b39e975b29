"""`python -m host`: offline predictions and model info through the component, in the sandbox."""
import json
import subprocess
import sys

import onnx

from conftest import MODEL, ROOT, WASM, require
from models.mobilenetv2 import build_mobilenetv2_zoo_style
from photos import CAT_CLASSES, CHELSEA_JPEG, COFFEE_JPEG, ESPRESSO


def host(*args):
    """(exit status, stdout lines as JSON) of `python -m host ARGS`."""
    require(WASM, MODEL)
    done = subprocess.run([sys.executable, "-m", "host", *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    return done.returncode, [json.loads(line) for line in done.stdout.splitlines()]


def test_predict_prints_a_json_line_per_image(tmp_path):
    (tmp_path / "cat.jpg").write_bytes(CHELSEA_JPEG)
    (tmp_path / "coffee.jpg").write_bytes(COFFEE_JPEG)
    status, lines = host("predict", "--top-k", 3, tmp_path / "cat.jpg", tmp_path / "coffee.jpg")
    assert status == 0
    assert [line["image"] for line in lines] == [str(tmp_path / "cat.jpg"), str(tmp_path / "coffee.jpg")]
    assert lines[0]["predictions"][0]["index"] in CAT_CLASSES and len(lines[0]["predictions"]) == 3
    assert lines[1]["predictions"][0]["index"] == ESPRESSO


def test_failed_images_are_reported_and_set_the_exit_status(tmp_path):
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "coffee.jpg").write_bytes(COFFEE_JPEG)
    status, lines = host("predict", "--instance-per-image", tmp_path / "notes.txt",
                         tmp_path / "missing.jpg", tmp_path / "coffee.jpg")
    assert status == 1
    assert lines[0]["error"].startswith("not-an-image")
    assert lines[1]["error"].startswith("cannot read")
    assert lines[2]["predictions"][0]["index"] == ESPRESSO


def test_model_option_runs_another_onnx_file(tmp_path):
    # A zoo-style MobileNetV2 (random weights) with no sidecar: torchvision defaults, no labels.
    onnx.save(build_mobilenetv2_zoo_style(seed=3, num_classes=10), str(tmp_path / "mnv2.onnx"))
    (tmp_path / "cat.jpg").write_bytes(CHELSEA_JPEG)
    status, [line] = host("--model", tmp_path / "mnv2.onnx", "predict", "--top-k", 10, tmp_path / "cat.jpg")
    assert status == 0
    assert sorted(p["index"] for p in line["predictions"]) == list(range(10))
    assert line["predictions"][0]["label"].startswith("class ")
    status, [info] = host("--model", tmp_path / "mnv2.onnx", "info")
    assert status == 0 and info["name"] == "mnv2" and info["num_classes"] == 10
    assert info["op_counts"]["BatchNormalization"] == 52


def test_info_describes_the_embedded_model():
    status, [info] = host("info")
    assert status == 0
    assert info["name"] == "efficientnet-lite0" and info["op_counts"]["Conv"] == 49


def test_model_option_reports_an_unusable_model(tmp_path):
    (tmp_path / "broken.onnx").write_bytes(b"\x08\x07garbage")
    status, [line] = host("--model", tmp_path / "broken.onnx", "info")
    assert status == 1 and line["error"].startswith("bad-model")


def test_without_a_cpu_cap(tmp_path):
    (tmp_path / "coffee.jpg").write_bytes(COFFEE_JPEG)
    status, [line] = host("--cpu-seconds", 0, "predict", tmp_path / "coffee.jpg")
    assert status == 0 and line["predictions"][0]["index"] == ESPRESSO


def test_broken_sidecar_is_a_bad_model(tmp_path):
    onnx.save(build_mobilenetv2_zoo_style(seed=3, num_classes=10), str(tmp_path / "mnv2.onnx"))
    (tmp_path / "mnv2.json").write_text('{"labels": "missing.txt"}')
    status, [line] = host("--model", tmp_path / "mnv2.onnx", "info")
    assert status == 1 and line["error"].startswith("bad-model") and "missing.txt" in line["error"]
