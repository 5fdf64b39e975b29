"""`python -m host`: offline predictions and model info through the component, in the sandbox."""

import io
import json
import subprocess
import sys

import onnx
import pytest
import wasmtime
from PIL import Image

from conftest import MODEL, ROOT, WASM, require
from host.classifier import ClassifyError, ComponentClassifier
from host.runtime import TRANSIENT_INSTANTIATION_ERRORS, Grants, Runtime, Trapped
from models.mobilenetv2 import build_mobilenetv2_zoo_style
from photos import CAT_CLASSES, CHELSEA_JPEG, COFFEE_JPEG, ESPRESSO
from tools.probe import Probe, ProbeError, probe_wasm

pytestmark = pytest.mark.component  # every test runs the component in wasmtime-py


def host(*args):
    """(exit status, stdout lines as JSON) of `python -m host ARGS`."""
    require(WASM, MODEL)
    done = subprocess.run(
        [sys.executable, "-m", "host", *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
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
    status, lines = host(
        "predict", "--instance-per-image", tmp_path / "notes.txt", tmp_path / "missing.jpg", tmp_path / "coffee.jpg"
    )
    assert status == 1
    assert lines[0]["error"].startswith("not-an-image")
    assert lines[1]["error"].startswith("cannot read")
    assert lines[2]["predictions"][0]["index"] == ESPRESSO


@pytest.mark.parametrize("where", ["before the command", "after the command"])
def test_model_option_runs_another_onnx_file(tmp_path, where):
    # A zoo-style MobileNetV2 (random weights) with no sidecar: torchvision defaults, no labels.
    onnx.save(build_mobilenetv2_zoo_style(seed=3, num_classes=10), str(tmp_path / "mnv2.onnx"))
    (tmp_path / "cat.jpg").write_bytes(CHELSEA_JPEG)

    def run(command, *args):
        options = ("--model", tmp_path / "mnv2.onnx", "--memory-mib", 256)
        return host(*options, command, *args) if where == "before the command" else host(command, *options, *args)

    status, [line] = run("predict", "--top-k", 10, tmp_path / "cat.jpg")
    assert status == 0
    assert sorted(p["index"] for p in line["predictions"]) == list(range(10))
    assert line["predictions"][0]["label"].startswith("class ")
    status, [info] = run("info")
    assert status == 0 and info["name"] == "mnv2" and info["num_classes"] == 10
    assert info["op_counts"]["BatchNormalization"] == 52


def test_images_from_several_folders_are_read_in_the_sandbox(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "cat.jpg").write_bytes(CHELSEA_JPEG)
    (tmp_path / "b" / "coffee.jpg").write_bytes(COFFEE_JPEG)
    (tmp_path / "b" / "link.jpg").symlink_to(tmp_path / "a" / "cat.jpg")  # its target's folder is granted
    status, lines = host(
        "predict", "--top-k", 1, tmp_path / "a" / "cat.jpg", tmp_path / "b" / "coffee.jpg", tmp_path / "b" / "link.jpg"
    )
    assert status == 0, lines
    assert [
        line["predictions"][0]["index"] in expected
        for line, expected in zip(lines, [CAT_CLASSES, {ESPRESSO}, CAT_CLASSES])
    ] == [True] * 3


@pytest.fixture(scope="module")
def huge_png():
    """A 4000x4000 PNG (16 Mpx, under the pixel limit; 60 KB) stored on its side (EXIF orientation
    6): decoding it, then turning it upright, needs two 48 MB images."""
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    Image.new("RGB", (4000, 4000), (120, 80, 40)).save(buf, "PNG", exif=exif)
    return buf.getvalue()


# A cap under which the component's snapshot (~67 MiB) and a photo fit but not that PNG. Seen
# with it: the PNG refused (image-too-large), and the next photo out of memory in the same
# instance; a fresh instance classifies it.
SMALL_MEMORY_MIB = 112


def test_an_image_over_the_memory_cap_fails_alone(tmp_path, huge_png):
    (tmp_path / "cat.jpg").write_bytes(CHELSEA_JPEG)
    (tmp_path / "coffee.jpg").write_bytes(COFFEE_JPEG)
    (tmp_path / "huge.png").write_bytes(huge_png)
    status, lines = host(
        "--memory-mib",
        SMALL_MEMORY_MIB,
        "predict",
        "--top-k",
        1,
        tmp_path / "cat.jpg",
        tmp_path / "huge.png",
        tmp_path / "coffee.jpg",
        tmp_path / "cat.jpg",
    )
    assert status == 1
    cat, huge, coffee, cat_again = lines
    assert huge["error"].split(":")[0] in ("image-too-large", "out-of-memory"), huge
    assert cat["predictions"][0]["index"] in CAT_CLASSES and cat_again == cat
    assert coffee["predictions"][0]["index"] == ESPRESSO


def test_a_failed_call_gets_a_fresh_instance_after_it():
    """The next call after a failure runs in a new instance (a failure may have spoiled it); a
    call that succeeds keeps it."""
    require(WASM, MODEL)
    classifier = ComponentClassifier(grants=Grants(memory_limit=SMALL_MEMORY_MIB << 20))
    assert classifier.classify(CHELSEA_JPEG, 1)[0]["index"] in CAT_CLASSES
    assert classifier.classify(COFFEE_JPEG, 1)[0]["index"] == ESPRESSO and classifier.instances == 1
    with pytest.raises(ClassifyError, match="^not-an-image"):
        classifier.classify(b"not an image")
    assert classifier.classify(COFFEE_JPEG, 1)[0]["index"] == ESPRESSO and classifier.instances == 2
    slow = ComponentClassifier(grants=Grants(cpu_seconds=0.001))
    for _ in range(2):
        with pytest.raises(ClassifyError, match="^limit"):
            slow.classify(COFFEE_JPEG)
    assert slow.instances == 2


class FailingFirst:
    """A linker whose first instantiation fails with `message`, as wasmtime reports a failure."""

    def __init__(self, linker, message):
        self.linker, self.message, self.calls = linker, message, 0

    def instantiate(self, store, component):
        self.calls += 1
        if self.calls == 1:
            raise wasmtime.WasmtimeError(self.message)
        return self.linker.instantiate(store, component)


def test_a_transient_host_failure_of_an_instantiation_is_tried_again():
    require(WASM, MODEL)
    runtime = Runtime(WASM, cpu_cap=False)
    runtime.linker = failing = FailingFirst(runtime.linker, TRANSIENT_INSTANTIATION_ERRORS[0])
    store, instance = runtime.instantiate(Grants(cpu_seconds=None))
    assert failing.calls == 2 and instance is not None


def test_any_other_failure_of_an_instantiation_is_not():
    require(WASM, MODEL)
    runtime = Runtime(WASM, cpu_cap=False)
    runtime.linker = failing = FailingFirst(runtime.linker, "wasm trap: wasm `unreachable` instruction executed")
    with pytest.raises(Trapped, match="unreachable"):
        runtime.instantiate(Grants(cpu_seconds=None))
    assert failing.calls == 1


def test_granted_image_folders_are_read_only_and_nothing_else(tmp_path):
    """The grants `predict` gives (ComponentClassifier(image_dirs=...)), probed from inside."""
    require(MODEL)
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.jpg").write_bytes(CHELSEA_JPEG)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "secret.txt").write_text("secret")
    classifier = ComponentClassifier(probe_wasm(), image_dirs=[tmp_path / "photos"])
    guest = classifier.grants.dirs[(tmp_path / "photos").resolve()]
    probe = Probe(classifier.runtime)
    assert probe.run(f"result = open('{guest}/cat.jpg', 'rb').read()", grants=classifier.grants) == CHELSEA_JPEG
    with pytest.raises(ProbeError, match=r"^PermissionError: \[Errno 63\] Operation not permitted"):  # read-only
        probe.run(f"open('{guest}/planted.jpg', 'wb').write(b'x'); result = b''", grants=classifier.grants)
    assert not (tmp_path / "photos" / "planted.jpg").exists()
    with pytest.raises(ProbeError, match=r"^PermissionError: \[Errno 63\] Operation not permitted"):  # out of the grant
        probe.run(f"result = open('{guest}/../other/secret.txt', 'rb').read()", grants=classifier.grants)
    with pytest.raises(ProbeError, match="^FileNotFoundError"):  # no such path in the sandbox
        probe.run(f"result = open({str(tmp_path / 'other' / 'secret.txt')!r}, 'rb').read()", grants=classifier.grants)
    with pytest.raises(ValueError, match="not granted"):
        classifier.classify_file(tmp_path / "other" / "secret.txt")


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
