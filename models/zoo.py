"""The model zoo the tests and the bench run: torchvision's classification families and timm's
edge models, exported to ONNX the ways users export them (both torch exporters, opsets 13-18,
a dynamic batch axis, float16), each beside onnxruntime's output on a fixed random input.

    build/zoo-venv/bin/python models/zoo.py [--set ci|bench|all] [--only NAME ...]   (`make zoo`)

Writes build/zoo/<versions>/<name>/: model.onnx, reference.npz (x: the seeded input, y:
onnxruntime's output on model.onnx) and meta.json (the spec, op counts, size, export time),
meta.json last, so a folder with it is complete and skipped on the next run. <versions> names
torch, torchvision, timm and onnxruntime as models/zoo-requirements.txt pins them and RECIPE,
<name> the architecture and the export options. This module imports torch only to export:
the tests and the bench import ZOO and folder() from it in the shared .venv. Weights are random
(pretrained=False: no hub is reachable), made to give real activations (see realistic()).
"""

import argparse
import functools
import json
import re
import sys
import time
import warnings
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "models" / "zoo-requirements.txt"
OUT = ROOT / "build" / "zoo"
RECIPE = 2  # bump when the export recipe changes what a file holds: the cache key changes with it
SEED = 20261203
LOGIT_SCALE = 8.0


@dataclass(frozen=True)
class Spec:
    family: str  # torchvision's family (or "timm/<family>")
    arch: str  # torchvision.models.<arch> / timm.create_model(<arch>) / a TINY entry
    exporter: str = "ts"  # "ts": TorchScript (dynamo=False); "dynamo": torch.export (dynamo=True)
    opset: int = 13
    dynamic: bool = False  # a symbolic batch axis (the reference is then computed at batch 2)
    fp16: bool = False  # onnxconverter-common's float16, float32 in and out (keep_io_types)
    bench: bool = False  # only in the bench set (too big for the tests, see docs/models.md)

    @property
    def name(self):
        return f"{self.arch}-{self.exporter}{self.opset}" + "-dyn" * self.dynamic + "-fp16" * self.fp16

    @property
    def source(self):
        return "timm" if self.family.startswith("timm/") else "torchvision"


def tv(family, arch, **options):
    return Spec(family, arch, **options)


def tm(arch, family, **options):
    return Spec("timm/" + family, arch, **options)


# The bench's representatives (issue 15), architecture -> family, and the two big families.
BENCH = {
    "resnet50": "resnet",
    "mobilenet_v3_large": "mobilenet_v3",
    "efficientnet_b0": "efficientnet",
    "densenet121": "densenet",
    "convnext_tiny": "convnext",
    "vit_b_16": "vit",
    "swin_t": "swin",
}
BIG = {"vgg11": "vgg", "wide_resnet50_2": "wide_resnet"}
# One model per torchvision family, the smallest variant; vgg11 (507 MB) and wide_resnet50_2
# (263 MB) only for the bench: their op sets are alexnet's and resnet50's. torchvision's vit_b_16
# is 330 MB: the tests take its VisionTransformer class at ViT-Ti size (TINY), same graph.
ZOO = [
    tv("alexnet", "alexnet"),
    tv("convnext", "convnext_tiny", opset=17),
    tv("densenet", "densenet121"),
    tv("efficientnet", "efficientnet_b0"),
    tv("efficientnet", "efficientnet_b0", exporter="dynamo", opset=18),
    tv("efficientnet_v2", "efficientnet_v2_s"),
    tv("googlenet", "googlenet"),
    tv("inception", "inception_v3"),
    tv("maxvit", "maxvit_t", opset=17),
    tv("mnasnet", "mnasnet0_5"),
    tv("mnasnet", "mnasnet0_5", opset=16),
    tv("mobilenet_v2", "mobilenet_v2"),
    tv("mobilenet_v2", "mobilenet_v2", dynamic=True),
    tv("mobilenet_v2", "mobilenet_v2", fp16=True),
    tv("mobilenet_v3", "mobilenet_v3_small"),
    tv("mobilenet_v3", "mobilenet_v3_small", exporter="dynamo", opset=18),
    tv("regnet_x", "regnet_x_400mf"),
    tv("regnet_y", "regnet_y_400mf"),
    tv("resnet", "resnet18"),
    tv("resnet", "resnet18", opset=17, dynamic=True),
    tv("resnet", "resnet18", fp16=True),
    tv("resnet", "resnet18", exporter="dynamo", opset=18),
    tv("resnext", "resnext50_32x4d"),
    tv("shufflenet_v2", "shufflenet_v2_x0_5"),
    tv("squeezenet", "squeezenet1_1"),
    tv("squeezenet", "squeezenet1_1", opset=15),
    tv("swin", "swin_t"),
    tv("swin_v2", "swin_v2_t", opset=17),
    tv("vit", "vit_ti_16", opset=14),
    tv("vit", "vit_ti_16", opset=17),
    tm("mobilenetv3_small_100", "mobilenetv3", opset=17),
    tm("tf_efficientnet_lite0", "efficientnet"),
    tm("ghostnet_100", "ghostnet"),
    tm("mobilevit_xs", "mobilevit", opset=17),
    tm("vit_tiny_patch16_224", "vit", opset=17),
    tm("convnext_atto", "convnext"),
    tm("resnet18d", "resnet"),
]
# The bench's own: its representatives at opset 17, unless the tests' set has them already.
ZOO += [
    tv(family, arch, opset=17, bench=True)
    for arch, family in (BENCH | BIG).items()
    if f"{arch}-ts17" not in {spec.name for spec in ZOO}
]
TINY = {"vit_ti_16": dict(image_size=224, patch_size=16, num_layers=12, num_heads=3, hidden_dim=192, mlp_dim=768)}


def selected(which):
    """The specs of a set: "ci" (the tests), "bench" (the bench's own), "all"."""
    return [s for s in ZOO if which == "all" or s.bench == (which == "bench")]


def versions():
    """The cache key of the exporting environment, from the pins (no torch needed to read it)."""
    pins = dict(re.findall(r"^([\w-]+)==(\S+)", REQUIREMENTS.read_text(), re.M))
    return "-".join(f"{p}{pins[p]}" for p in ("torch", "torchvision", "timm", "onnxruntime")) + f"-r{RECIPE}"


def folder(spec):
    return OUT / versions() / spec.name


def by_name(name):
    return next(s for s in ZOO if s.name == name)


# --- exporting (zoo venv only) ---------------------------------------------------------------
def build(source, arch):
    """The torch module and its input size (C, H, W)."""
    import timm
    import torchvision

    if source == "timm":
        model = timm.create_model(arch, pretrained=False)
        return model, tuple(model.pretrained_cfg["input_size"])
    if arch in TINY:
        return torchvision.models.VisionTransformer(**TINY[arch]), (3, 224, 224)
    model = torchvision.models.get_model(arch, weights=None)
    return model, (3, 299, 299) if arch == "inception_v3" else (3, 224, 224)


def realistic(model, shape):
    """Random weights that give real activations: batch-norm statistics re-estimated on random
    batches (the defaults, mean 0 / var 1, make activations vanish or blow up in deep nets),
    all-zero heads (torchvision's vit) and 1e-6 layer scales (convnext) given real values, and
    the last layer scaled so that logits reach about LOGIT_SCALE (the tests' tolerance is
    relative to max(1, max|logit|): tiny logits would make it loose)."""
    import torch
    from torch import nn

    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Linear) and not module.weight.any():
                nn.init.normal_(module.weight, std=module.in_features**-0.5)
        for p in model.parameters():
            first = p.flatten()[0]
            if p.numel() > 1 and 0 < abs(first) < 1e-4 and bool((p == first).all()):
                p.fill_(0.1)
        norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        if norms:
            for m in norms:
                m.reset_running_stats()
                m.momentum = None  # a cumulative average over the batches
            model.train()
            for _ in range(3):
                model(torch.randn(4, *shape))
        model.eval()
        last = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))][-1]
        factor = LOGIT_SCALE / float(model(torch.randn(2, *shape)).abs().max())
        last.weight *= factor  # a positive factor passes through the ReLU and pooling after it
        if last.bias is not None:
            last.bias *= factor
    return model


@functools.cache
def prepared(source, arch):
    """The seeded, realistic module of an architecture and its input size, made once per run
    (the variants of one architecture export the same weights)."""
    import torch

    torch.manual_seed(SEED)
    model, shape = build(source, arch)
    return realistic(model, shape), shape


def export(spec, model, x):
    """ONNX bytes of the model, as spec says."""
    import io
    import torch

    torch.backends.mha.set_fastpath_enabled(False)  # else the TorchScript exporter fails on vit
    f = io.BytesIO()
    if spec.exporter == "dynamo":
        program = torch.onnx.export(model, (x,), dynamo=True, opset_version=spec.opset, verbose=False)
        program.save(f, external_data=False)
    else:
        axes = {"x": {0: "batch"}, "logits": {0: "batch"}} if spec.dynamic else None
        torch.onnx.export(
            model,
            (x,),
            f,
            dynamo=False,
            opset_version=spec.opset,
            input_names=["x"],
            output_names=["logits"],
            dynamic_axes=axes,
        )
    data = f.getvalue()
    if spec.fp16:
        import onnx
        from onnxconverter_common import float16

        data = float16.convert_float_to_float16(onnx.load_from_string(data), keep_io_types=True).SerializeToString()
    return data


def reference(data, x):
    import onnxruntime

    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})[0]


def export_one(spec):
    """Exports spec to its folder unless there already; returns its meta."""
    out = folder(spec)
    if (out / "meta.json").exists():
        return json.loads((out / "meta.json").read_text())
    import numpy as np
    import onnx
    import torch

    t0 = time.perf_counter()
    model, shape = prepared(spec.source, spec.arch)
    batch = 2 if spec.dynamic else 1
    x = np.random.default_rng(SEED).standard_normal((batch, *shape)).astype(np.float32)
    with torch.no_grad():
        data = export(spec, model, torch.from_numpy(x[:1] if spec.dynamic else x))
    y = reference(data, x)
    graph = onnx.load_from_string(data).graph
    out.mkdir(parents=True, exist_ok=True)
    (out / "model.onnx").write_bytes(data)
    np.savez(out / "reference.npz", x=x, y=y)
    meta = asdict(spec) | {
        "name": spec.name,
        "source": spec.source,
        "versions": versions(),
        "input_shape": list(x.shape),
        "bytes": len(data),
        "op_counts": dict(sorted(Counter(n.op_type for n in graph.node).items())),
        "max_abs_logit": float(np.abs(y).max()),
        "export_seconds": round(time.perf_counter() - t0, 1),
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=1))
    return meta


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=["ci", "bench", "all"], default="ci")
    parser.add_argument("--only", nargs="+", help="spec names (e.g. resnet18-ts13)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # the exporters warn per traced branch; the progress lines matter here
    specs = [by_name(n) for n in args.only] if args.only else selected(args.set)
    t0, failed = time.perf_counter(), []
    print(f"zoo: {len(specs)} models -> {(OUT / versions()).relative_to(ROOT)}", flush=True)
    for i, spec in enumerate(specs, 1):
        cached = (folder(spec) / "meta.json").exists()
        try:
            meta = export_one(spec)
        except Exception as e:  # one exporter failure must not hide the other models
            failed.append(spec.name)
            print(f"[{i}/{len(specs)}] {spec.name}: FAILED {type(e).__name__}: {str(e)[:300]}", flush=True)
            continue
        took = "cached" if cached else f"{meta['export_seconds']} s"
        print(
            f"[{i}/{len(specs)}] {spec.name}: {took}, "
            f"{meta['bytes'] / 1e6:.1f} MB, max|logit| {meta['max_abs_logit']:.3g}",
            flush=True,
        )
    print(f"zoo: {time.perf_counter() - t0:.0f} s" + (f", failed: {' '.join(failed)}" if failed else ""), flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
