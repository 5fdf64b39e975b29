"""The classifier component's typed interface (imgcls:classifier/classify) under wasmtime-py,
and the engine inside the sandbox, with XNNPACK's kernels and with numpy's, against
onnxruntime on the same ONNX files."""

import hashlib
import io

import numpy as np
import onnxruntime
import pytest

from conftest import MODEL, ROOT, WASM, require
from host.exports import CLASSIFIER, Export
from host.runtime import Grants, Runtime
from photos import CAT_CLASSES, CHELSEA_JPEG, COFFEE_JPEG, ESPRESSO

import preprocess


@pytest.fixture(scope="module")
def runtime():
    require(WASM, MODEL)
    return Runtime(WASM)


def call(runtime, func, *args, model_path=f"/models/{MODEL.name}", dirs=None):
    """Calls an exported function of the interface in a fresh instance. With a model_path the
    instance is granted the model folder and loads that file; with None, no grant at all, and
    it runs the model embedded at build time; `dirs` grants more folders. Returns the ok value,
    or the error variant (tag, payload)."""
    grants = Grants(dirs={MODEL.parent: "/models"}, env={"MODEL_PATH": model_path}) if model_path else Grants()
    grants.dirs.update(dirs or {})
    store, instance = runtime.instantiate(grants)
    return Export(runtime, func, CLASSIFIER).call(store, instance, *args, cpu_seconds=grants.cpu_seconds)[1]


def test_classify_ranks_real_photos(runtime):
    cat = call(runtime, "classify", CHELSEA_JPEG, 3)
    assert len(cat) == 3 and cat[0].index in CAT_CLASSES
    assert cat[0].score >= cat[1].score >= cat[2].score
    coffee = call(runtime, "classify", COFFEE_JPEG, 1)
    assert (coffee[0].index, coffee[0].label) == (ESPRESSO, "espresso") and 0.5 < coffee[0].score <= 1


def test_classify_errors_are_typed(runtime):
    bad = call(runtime, "classify", b"GIF89a not really", 5)
    assert bad.tag == "not-an-image" and "not an image" in bad.payload
    missing = call(runtime, "classify", CHELSEA_JPEG, 5, model_path="/models/missing.onnx")
    assert missing.tag == "bad-model" and "missing.onnx" in missing.payload
    # The same rule as HTTP's ?top_k=0 (errors.policy): a bad-request, not a silent 1.
    zero = call(runtime, "classify", CHELSEA_JPEG, 0)
    assert zero.tag == "bad-request" and "top_k" in zero.payload
    everything = call(runtime, "classify", CHELSEA_JPEG, 5000)
    assert len(everything) == 1000


def test_classify_file_reads_a_granted_file(runtime, tmp_path):
    (tmp_path / "chelsea.jpg").write_bytes(CHELSEA_JPEG)
    granted = {tmp_path: "/images"}
    by_path = [vars(p) for p in call(runtime, "classify-file", "/images/chelsea.jpg", 1000, dirs=granted)]
    assert by_path == [vars(p) for p in call(runtime, "classify", CHELSEA_JPEG, 1000)]
    assert by_path[0]["index"] in CAT_CLASSES
    # A file it cannot read is a bad request, named; so is one outside what was granted.
    for path in ("/images/missing.jpg", "/images", str(ROOT / "README.md")):
        refused = call(runtime, "classify-file", path, 5, dirs=granted)
        assert refused.tag == "bad-request" and f"cannot read {path}" in refused.payload, refused
    (tmp_path / "notes.txt").write_text("not an image")
    assert call(runtime, "classify-file", "/images/notes.txt", 5, dirs=granted).tag == "not-an-image"


def test_embedded_model_needs_no_files(runtime):
    info = vars(call(runtime, "model-info", model_path=None))
    assert info["sha256"] == hashlib.sha256(MODEL.read_bytes()).hexdigest()
    cat = call(runtime, "classify", CHELSEA_JPEG, 1, model_path=None)
    assert cat[0].index in CAT_CLASSES


def test_model_info(runtime):
    info = vars(call(runtime, "model-info"))  # record fields keep their WIT (kebab-case) names
    assert (info["name"], info["input-size"], info["num-classes"]) == ("efficientnet-lite0", 224, 1000)
    assert info["sha256"] == hashlib.sha256(MODEL.read_bytes()).hexdigest()
    assert dict(info["op-counts"])["Conv"] == 49


# --- the engine inside the component vs onnxruntime ------------------------------------


def torch_export(tmp_path):
    import torch_mobilenetv2  # imports torch: only this test needs it

    path = tmp_path / "mobilenetv2-torch.onnx"
    torch_mobilenetv2.export_torchvision_style_mobilenetv2(path, seed=0)
    return path.read_bytes()


def zoo_style(tmp_path):
    from models.mobilenetv2 import build_mobilenetv2_zoo_style

    return build_mobilenetv2_zoo_style(seed=1).SerializeToString()


def efficientnet_lite0(tmp_path):
    require(MODEL)
    return MODEL.read_bytes()


RUN_ENGINE = """
f = np.load(io.BytesIO(data))
out = io.BytesIO()
np.savez(out, **{kernels: engine.load_model(f["model"].tobytes(), kernels=kernels).run(f["x"])
                 for kernels in ("auto", "xnnpack", "numpy")})
result = out.getvalue()
"""


def run_engine_inside(probe, model_bytes, x):
    """Logits of the project's engine run inside the probe component, with each kernel set:
    {"auto": ..., "xnnpack": ..., "numpy": ...} (auto is XNNPACK's there)."""
    buf = io.BytesIO()
    np.savez(buf, model=np.frombuffer(model_bytes, np.uint8), x=x)
    results = np.load(io.BytesIO(probe.run(RUN_ENGINE, buf.getvalue())))
    return {name: results[name] for name in results.files}


@pytest.mark.parametrize("make_model", [torch_export, zoo_style, efficientnet_lite0])
def test_logits_inside_component_match_onnxruntime(probe, make_model, tmp_path):
    model_bytes = make_model(tmp_path)
    session = onnxruntime.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    # A real photo, preprocessed as the app does, and a random input.
    photo = preprocess.preprocess(CHELSEA_JPEG, preprocess.Preprocessing())  # (1, 3, 224, 224)
    noise = np.random.default_rng(5).standard_normal(photo.shape).astype(np.float32)
    max_diff = {}
    for x in (photo, noise):
        expected = session.run(None, {input_name: x})[0]
        inside = run_engine_inside(probe, model_bytes, x)
        np.testing.assert_array_equal(inside["auto"], inside["xnnpack"])
        for kernels in ("xnnpack", "numpy"):
            assert inside[kernels].shape == expected.shape
            diff = float(np.abs(inside[kernels] - expected).max())
            max_diff[kernels] = max(max_diff.get(kernels, 0.0), diff)
    print(
        f"{make_model.__name__}: max |logit inside - onnxruntime|: "
        + ", ".join(f"{kernels} kernels {diff:.2e}" for kernels, diff in max_diff.items())
    )
    assert max(max_diff.values()) <= 1e-4
