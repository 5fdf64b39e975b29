"""EfficientNet-Lite0 in int8: the float model quantized by onnxruntime.quantization.

    .venv/bin/python models/quantize_int8.py build/models      (after efficientnet_lite0.py)

reads build/models/efficientnet-lite0.onnx and writes efficientnet-lite0-int8.onnx with its
sidecar efficientnet-lite0-int8.json (the float model's, renamed: same preprocessing, labels).

How: onnxruntime's pre-processing (shape inference, and its optimizer folding each
BatchNormalization into its Conv), then `quantize_static` in the QDQ format: weights int8
per output channel (symmetric), activations int8 (asymmetric), biases int32; then bias
correction (bias_correction.py). QDQ is what onnxruntime recommends for int8 on x86 and what
the engine rewrites into integer ops (component/engine/qdq.py). Why each choice (top-1
agreement with float32 on the 253 test photos, docs/int8.md "Recipes"):

- bias correction: the one step that matters (59% -> 81-86%). After BN folding many channels
  hold weights of 1e-8..0.3 beside others of 1-20, and rounding them to int8 shifts channel
  means that ReLU6 then amplifies; calibration choices alone moved agreement by a few points.
- the Gemm's output left float (`OpTypesToExcludeOutputQuantization`): its weights stay int8
  (a QGemm with float output), but logits are not rounded to steps of 0.07, which made
  near-ties into exact ties.
- activation ranges at the 99.99th percentile: a little better than min/max after bias
  correction; moving averages of ranges, symmetric activations and entropy did worse or no better.

Calibration: the real photographs scikit-image ships in its wheel (CALIBRATION: 8 colour
photos and 6 greyscale ones, given to the network as RGB), each also mirrored, cropped and made
small and grey (as LFW's faces are), 168 images through the app's own preprocessing
(component/preprocess.py). None of the test's faces or interiors are used. No other registry
package found ships more real photos under a usable licence (docs/int8.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnx

try:
    from .bias_correction import correct_biases
    from .efficientnet_lite0 import NAME, app_preprocess, read_labels, top_k
    from .registry_photos import SKIMAGE_PHOTOS, skimage_photo
except ImportError:  # run as a script: models/ is on sys.path
    from bias_correction import correct_biases
    from efficientnet_lite0 import NAME, app_preprocess, read_labels, top_k
    from registry_photos import SKIMAGE_PHOTOS, skimage_photo

INT8_NAME = f"{NAME}-int8"
CALIBRATION = SKIMAGE_PHOTOS  # scikit-image's photographs: colour, then greyscale


def photo(name: str) -> np.ndarray:
    """scikit-image's photo `name` as HxWx3 uint8 RGB."""
    image = skimage_photo(name)
    return np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image


def calibration_images(sidecar: dict) -> np.ndarray:
    """(N, 3, S, S) float32: each CALIBRATION photo, mirrored, six crops of it (half and 0.7 of
    each side: top left, centre, bottom right), and four small greyscale versions (25x25 or
    32x32, as blurred as LFW's faces once resized), all through the app's preprocessing."""
    from PIL import Image

    def small_grey(image, side):
        grey = np.asarray(
            Image.fromarray(np.ascontiguousarray(image)).convert("L").resize((side, side), Image.BILINEAR)
        )
        return np.repeat(grey[..., None], 3, axis=2)

    images = []
    for name in CALIBRATION:
        image = photo(name)
        h, w = image.shape[:2]
        crops = [
            image[y : y + int(h * f), x : x + int(w * f)]
            for f in (0.5, 0.7)
            for y, x in ((0, 0), ((h - int(h * f)) // 2, (w - int(w * f)) // 2), (h - int(h * f), w - int(w * f)))
        ]
        images += [image, image[:, ::-1], *crops]
        images += [
            small_grey(image, 25),
            small_grey(image[:, ::-1], 32),
            small_grey(crops[1], 25),
            small_grey(crops[4], 25),
        ]
    print(f"  {len(images)} calibration images from {len(CALIBRATION)} photos", flush=True)
    return np.concatenate([app_preprocess(np.ascontiguousarray(i), sidecar) for i in images])


def quantize(float_path: Path, out_path: Path, sidecar: dict) -> None:
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    input_name = onnx.load(str(float_path), load_external_data=False).graph.input[0].name
    images = calibration_images(sidecar)

    class Photos(CalibrationDataReader):
        def __init__(self):
            self.images = iter(images)

        def get_next(self):
            image = next(self.images, None)
            return None if image is None else {input_name: image[None]}

    with tempfile.TemporaryDirectory() as tmp:
        prepared, quantized = Path(tmp) / "prepared.onnx", Path(tmp) / "quantized.onnx"
        quant_pre_process(str(float_path), str(prepared))
        quantize_static(
            str(prepared),
            str(quantized),
            Photos(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.Percentile,
            extra_options={"CalibPercentile": 99.99, "OpTypesToExcludeOutputQuantization": ["Gemm"]},
        )
        model = onnx.load(str(quantized))
        correct_biases(onnx.load(str(prepared)), model, images)
        onnx.save(model, str(out_path))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models_dir", type=Path, help=f"holds {NAME}.onnx and its sidecar; gets {INT8_NAME}.onnx")
    args = ap.parse_args(argv)
    source = args.models_dir / f"{NAME}.onnx"
    sidecar = json.loads(source.with_suffix(".json").read_text())
    target = args.models_dir / f"{INT8_NAME}.onnx"
    print(f"quantizing {source} on {len(CALIBRATION)} scikit-image photos", flush=True)
    quantize(source, target, sidecar)
    sidecar = dict(
        sidecar,
        name=INT8_NAME,
        source=sidecar["source"] + "; quantized to int8 (QDQ, per-channel "
        "weights, bias-corrected) by models/quantize_int8.py with onnxruntime.quantization, "
        f"calibrated on {len(CALIBRATION)} scikit-image photos and variants of them",
    )
    target.with_suffix(".json").write_text(json.dumps(sidecar, indent=2) + "\n", encoding="utf-8")
    import onnxruntime as ort

    session = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    labels = read_labels(args.models_dir / sidecar["labels"])
    for name in ("chelsea", "coffee"):
        logits = session.run(None, {session.get_inputs()[0].name: app_preprocess(photo(name), sidecar)})[0][0]
        print(f"{name}: " + ", ".join(f"{label} {p:.3f}" for label, p in top_k(logits, labels)))
    print(f"wrote {target} ({target.stat().st_size} bytes), {target.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
