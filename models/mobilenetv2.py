"""MobileNetV2 (width 1.0) with seeded random weights, written like the ONNX model zoo's
`mobilenetv2-7.onnx`: explicit BatchNormalization nodes, ReLU6 as opset-10 Clip with
min/max *attributes*, and the classifier as a 1x1 Conv after GlobalAveragePool followed
by Reshape to (N, num_classes). Opset 10.

It stands in for a real MobileNetV2 in tests (no registry package ships pretrained
MobileNetV2 weights): same layers and shapes as torchvision's `mobilenet_v2()`, so an
engine that runs it runs the real thing. The weights are random but scaled so that
activations stay O(1) through all 17 blocks, and every BatchNormalization has random,
non-trivial gamma, beta, running mean and running variance, so that folding BN into the
convolutions is really exercised.

    .venv/bin/python models/mobilenetv2.py OUT.onnx [--seed N] [--num-classes K]

writes the model and a sidecar OUT.json with torchvision's preprocessing convention.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np
import onnx

try:
    from . import onnx_graph
except ImportError:  # run as a script: models/ is on sys.path
    import onnx_graph

# torchvision's MobileNetV2 settings: expansion t, output channels c, repeats n, stride s
INVERTED_RESIDUAL_SETTING = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
STEM_CHANNELS = 32
LAST_CHANNELS = 1280
BN_EPS = 1e-5  # torch's and MXNet's default
INPUT_SIZE = 224
OPSET = 10

# torchvision's preprocessing for ImageNet classifiers
TORCHVISION_SIDECAR = {
    "input_size": 224,
    "resize": 256,
    "interpolation": "bilinear",
    "mean": [0.485, 0.456, 0.406],
    "std": [0.229, 0.224, 0.225],
    "labels": "imagenet_classes.txt",
}


def _random_bn(rng: np.random.Generator, channels: int) -> dict:
    """BN parameters far from identity: gamma in [0.5, 1.5], beta ~ N(0, 0.2^2), running
    mean ~ N(0, 0.3^2), running var in [0.5, 2]."""
    return dict(
        gamma=rng.uniform(0.5, 1.5, channels).astype(np.float32),
        beta=(0.2 * rng.standard_normal(channels)).astype(np.float32),
        mean=(0.3 * rng.standard_normal(channels)).astype(np.float32),
        var=rng.uniform(0.5, 2.0, channels).astype(np.float32),
    )


def build_mobilenetv2_zoo_style(seed: int, num_classes: int = 1000) -> onnx.ModelProto:
    """A seeded random MobileNetV2 in the ONNX model zoo's mobilenetv2-7 layout (opset 10):
    input "data" (N, 3, 224, 224), output "output" (N, num_classes) logits."""
    rng = np.random.default_rng(seed)
    g = onnx_graph.GraphBuilder(OPSET)

    def conv_bn(x, cin, cout, name, kernel=1, stride=1, group=1, relu6=True):
        fan_in = (cin // group) * kernel * kernel
        # He init before ReLU6; variance 1/fan_in before the linear bottleneck.
        w = onnx_graph.he_normal(rng, (cout, cin // group, kernel, kernel), fan_in, gain=2.0 if relu6 else 1.0)
        p = (kernel - 1) // 2
        y = g.conv(x, w, name, stride=stride, pads=(p, p, p, p), group=group)
        y = g.batchnorm(y, name + ".bn", eps=BN_EPS, **_random_bn(rng, cout))
        return g.clip(y, name + ".relu6", 0.0, 6.0) if relu6 else y

    x = conv_bn("data", 3, STEM_CHANNELS, "features.0", kernel=3, stride=2)
    cin, index = STEM_CHANNELS, 1
    for t, c, n, s in INVERTED_RESIDUAL_SETTING:
        for i in range(n):
            stride = s if i == 0 else 1
            name, hidden = f"features.{index}", cin * t
            y = x
            if t != 1:
                y = conv_bn(y, cin, hidden, name + ".expand")
            y = conv_bn(y, hidden, hidden, name + ".dw", kernel=3, stride=stride, group=hidden)
            y = conv_bn(y, hidden, c, name + ".project", relu6=False)
            x = g.add(x, y, name + ".add") if stride == 1 and cin == c else y
            cin, index = c, index + 1
    x = conv_bn(x, cin, LAST_CHANNELS, f"features.{index}")
    x = g.global_avg_pool(x, "pool")
    # Classifier as a 1x1 convolution with bias, as in the zoo model; small weights keep
    # the logits within a few units.
    w = onnx_graph.he_normal(rng, (num_classes, LAST_CHANNELS, 1, 1), LAST_CHANNELS, gain=1.0)
    b = (0.1 * rng.standard_normal(num_classes)).astype(np.float32)
    x = g.conv(x, w, "classifier", bias=b)
    x = g.reshape(x, [0, -1], "flatten")
    doc = (
        f"MobileNetV2 1.0 with random weights (seed {seed}); model-zoo layout: explicit "
        "BatchNormalization, Clip attributes, 1x1 Conv classifier + Reshape. Not a trained model."
    )
    return g.model(
        "data",
        ["N", 3, INPUT_SIZE, INPUT_SIZE],
        x,
        "output",
        ["N", num_classes],
        graph_name=f"mobilenetv2_zoo_style_seed{seed}",
        doc=doc,
    )
    # No metadata_props, like the zoo model: its preprocessing lives in a sidecar (main()).


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Writes a seeded random MobileNetV2 (zoo layout).")
    ap.add_argument("out", type=Path, help="OUT.onnx; the sidecar goes to OUT.json")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--num-classes", type=int, default=1000)
    args = ap.parse_args(argv)
    model = build_mobilenetv2_zoo_style(args.seed, args.num_classes)
    onnx.checker.check_model(model, full_check=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(args.out))
    sidecar = {
        "name": f"mobilenetv2-zoo-style-seed{args.seed}",
        **TORCHVISION_SIDECAR,
        "source": "models/mobilenetv2.py (random weights)",
        "license": "n/a (generated)",
    }
    labels = Path(__file__).resolve().parent / TORCHVISION_SIDECAR["labels"]
    if args.num_classes == 1000:  # ImageNet names on random outputs, but the app shows names
        if not (args.out.parent / labels.name).exists():
            shutil.copyfile(labels, args.out.parent / labels.name)
    else:
        del sidecar["labels"]
    args.out.with_suffix(".json").write_text(onnx_graph.sidecar_json(sidecar), encoding="utf-8")
    print(f"wrote {args.out} and {args.out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
