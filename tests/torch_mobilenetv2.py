"""A torchvision-style MobileNetV2 in plain torch, exported with `torch.onnx.export`.

torchvision itself cannot be imported here (PyPI's torchvision fails beside the local torch
build), so the network is defined again with torchvision's module structure and names
(`features.N.conv...`, `classifier.1`), its layer settings and its forward pass
(features -> adaptive_avg_pool2d(1) -> flatten -> Dropout + Linear). Exporting it gives an
ONNX graph shaped like what a user gets from
`torch.onnx.export(torchvision.models.mobilenet_v2(...))`.

Weights are seeded random. Batch-norm running statistics are not left at 0/1: they are
measured on random input (train-mode passes with cumulative averaging), then gamma and
beta are randomized, so the exported model has the folded-in BN of a trained network and
activations stay O(1).

Exporter: the TorchScript-based one (`dynamo=False`), which torch 2.13 still ships and
which needs nothing beyond torch and onnx (the dynamo exporter needs `onnxscript`). In eval
mode it folds each BatchNorm into the preceding Conv.

Needs torch (`torch==2.13.0`); import this module only where torch is importable.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

# torchvision's MobileNetV2 settings: expansion t, output channels c, repeats n, stride s
INVERTED_RESIDUAL_SETTING = [
    [1, 16, 1, 1],
    [6, 24, 2, 2],
    [6, 32, 3, 2],
    [6, 64, 4, 2],
    [6, 96, 3, 1],
    [6, 160, 3, 2],
    [6, 320, 1, 1],
]
OPSET = 13
INPUT_SIZE = 224


class Conv2dNormActivation(nn.Sequential):
    """Conv2d (no bias) + BatchNorm2d + ReLU6, as torchvision.ops.Conv2dNormActivation."""

    def __init__(self, cin: int, cout: int, kernel_size: int = 3, stride: int = 1, groups: int = 1):
        super().__init__(
            nn.Conv2d(cin, cout, kernel_size, stride, (kernel_size - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU6(inplace=True),
        )
        self.out_channels = cout


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand_ratio: int):
        super().__init__()
        self.stride = stride
        hidden = cin * expand_ratio
        self.use_res_connect = stride == 1 and cin == cout
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(Conv2dNormActivation(cin, hidden, kernel_size=1))
        layers += [
            Conv2dNormActivation(hidden, hidden, stride=stride, groups=hidden),
            nn.Conv2d(hidden, cout, 1, 1, 0, bias=False),
            nn.BatchNorm2d(cout),
        ]
        self.conv = nn.Sequential(*layers)
        self.out_channels = cout

    def forward(self, x):
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV2(nn.Module):
    def __init__(self, num_classes: int = 1000, dropout: float = 0.2):
        super().__init__()
        cin, last = 32, 1280
        features: list[nn.Module] = [Conv2dNormActivation(3, cin, stride=2)]
        for t, c, n, s in INVERTED_RESIDUAL_SETTING:
            for i in range(n):
                features.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        features.append(Conv2dNormActivation(cin, last, kernel_size=1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout), nn.Linear(last, num_classes))
        # torchvision's initialisation
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.features(x)
        x = nn.functional.adaptive_avg_pool2d(x, (1, 1))
        x = torch.flatten(x, 1)
        return self.classifier(x)


def make_model(seed: int, num_classes: int = 1000) -> MobileNetV2:
    """A seeded MobileNetV2 in eval mode with measured, non-trivial BN statistics."""
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = MobileNetV2(num_classes)
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    with torch.no_grad():
        # Random affine first, so the measured statistics of later layers see it.
        for bn in bns:
            c = bn.num_features
            bn.weight.copy_(torch.rand(c, generator=gen) + 0.5)  # gamma in [0.5, 1.5]
            bn.bias.copy_(0.2 * torch.randn(c, generator=gen))  # beta ~ N(0, 0.2^2)
            bn.reset_running_stats()
            bn.momentum = None  # cumulative average
        fc = model.classifier[1]
        fc.weight.copy_(torch.randn(fc.weight.shape, generator=gen) / fc.in_features**0.5)
        fc.bias.copy_(0.1 * torch.randn(num_classes, generator=gen))
        model.train()
        for _ in range(2):
            model(torch.randn(4, 3, INPUT_SIZE, INPUT_SIZE, generator=gen))
        # Skew the measured statistics a little, so they are not exactly the data's.
        for bn in bns:
            c = bn.num_features
            bn.running_mean.add_(0.05 * torch.randn(c, generator=gen))
            bn.running_var.mul_(torch.rand(c, generator=gen) * 0.4 + 0.8)
    return model.eval()


def export_torchvision_style_mobilenetv2(path, seed: int, num_classes: int = 1000) -> MobileNetV2:
    """Exports a seeded MobileNetV2 to `path` (ONNX, opset 13, input "input" (N, 3, 224,
    224), output "output" (N, num_classes)); returns the eval-mode torch model, so a
    caller can compare against torch's own output."""
    model = make_model(seed, num_classes)
    example = torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # The TorchScript exporter announces its deprecation on every call.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        torch.onnx.export(
            model,
            (example,),
            str(path),
            dynamo=False,
            opset_version=OPSET,
            input_names=["input"],
            output_names=["output"],
            dynamic_axes={"input": {0: "N"}, "output": {0: "N"}},
            do_constant_folding=True,
        )
    return model


if __name__ == "__main__":
    import sys

    import numpy as np
    import onnxruntime as ort

    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("build/fixtures/mobilenetv2-torch-seed0.onnx")
    model = export_torchvision_style_mobilenetv2(out, seed=0)
    x = torch.randn(2, 3, INPUT_SIZE, INPUT_SIZE, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = model(x).numpy()
    got = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {"input": x.numpy()})[0]
    print(f"wrote {out}; max |onnxruntime - torch| = {np.abs(got - ref).max():.2e}")
