"""EfficientNet-Lite0 in int8: the float model quantized by onnxruntime.quantization.

    .venv/bin/python models/quantize_int8.py build/models      (after efficientnet_lite0.py)

reads build/models/efficientnet-lite0.onnx and writes efficientnet-lite0-int8.onnx with its
sidecar efficientnet-lite0-int8.json (the float model's, renamed: same preprocessing, labels).

How: onnxruntime's pre-processing (shape inference, and its optimizer folding each
BatchNormalization into its Conv), then `quantize_static` in the QDQ format: weights int8
per output channel (symmetric), activations int8 (asymmetric, min/max calibration), biases
int32. QDQ is what onnxruntime recommends for int8 on x86 and what the engine rewrites into
integer ops (component/engine/qdq.py).

Calibration: the real photographs scikit-image ships in its wheel (CALIBRATION: 8 colour
photos and 6 greyscale ones, given to the network as RGB), through the app's own
preprocessing (component/preprocess.py). No other registry package found ships more real
photos under a usable licence (docs/int8.md).
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
    from .efficientnet_lite0 import NAME, app_preprocess, read_labels, top_k
except ImportError:  # run as a script: models/ is on sys.path
    from efficientnet_lite0 import NAME, app_preprocess, read_labels, top_k

INT8_NAME = f"{NAME}-int8"
# scikit-image's photographs (skimage.data functions): colour, then greyscale.
CALIBRATION = (
    "astronaut",
    "chelsea",
    "coffee",
    "rocket",
    "hubble_deep_field",
    "immunohistochemistry",
    "retina",
    "stereo_motorcycle",
    "camera",
    "moon",
    "coins",
    "brick",
    "grass",
    "gravel",
)


def photo(name: str) -> np.ndarray:
    """skimage.data's photo `name` as HxWx3 uint8 RGB."""
    from skimage import data

    image = getattr(data, name)()
    image = image[0] if isinstance(image, tuple) else image  # stereo_motorcycle: (left, right, disparity)
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = (image * 255).astype(np.uint8) if image.max() <= 1 else image.astype(np.uint8)
    return np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image[..., :3]


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

    class Photos(CalibrationDataReader):
        def __init__(self):
            self.names = iter(CALIBRATION)

        def get_next(self):
            name = next(self.names, None)
            if name is None:
                return None
            print(f"  calibrating on {name}", flush=True)
            return {input_name: app_preprocess(photo(name), sidecar)}

    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(float_path), str(prepared))
        quantize_static(
            str(prepared),
            str(out_path),
            Photos(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.MinMax,
        )


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
        "weights) by models/quantize_int8.py with onnxruntime.quantization, calibrated on "
        f"{len(CALIBRATION)} scikit-image photos",
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
