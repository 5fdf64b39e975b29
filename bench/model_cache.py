"""The benchmark's models: the default one from build/models, generated ones cached in
build/bench/models, keyed on their generators' sources, and the zoo's representatives
(models/zoo.py, exported in its own venv on first use into build/zoo)."""

import contextlib
import json
import shutil
import subprocess
import sys

from bench_common import OUT, ROOT, digest, log
from models import zoo

DEFAULT_MODEL = ROOT / "build" / "models" / "efficientnet-lite0.onnx"
INT8_MODEL = ROOT / "build" / "models" / "efficientnet-lite0-int8.onnx"
MODELS = {
    "mobilenetv2-zoo": "MobileNetV2, zoo-style graph (opset 10, explicit BN), seeded random weights (seed 1)",
    "mobilenetv2-torch": "MobileNetV2, torch.onnx.export of a torchvision-style net (opset 13), seeded random (seed 0)",
    "efficientnet-lite0": "EfficientNet-Lite0, ImageNet weights (the default model, build/models)",
    "efficientnet-lite0-int8": "EfficientNet-Lite0 in int8 (make model QUANT=int8: QDQ, per-channel weights)",
    "mobilenetv2-int8": "mobilenetv2-torch quantized as models/quantize_int8.py quantizes (issue 16's int8 MobileNetV2)",
}
# Issue 16: int8 files made from float ones by models/quantize_int8.py (quantize_static, QDQ).
QUANTIZED = {"mobilenetv2-int8": "mobilenetv2-torch"}
# --zoo: one representative per family (issue 15), random weights, measured by the inference peers only.
ZOO_MODELS = {arch: zoo.by_name(f"{arch}-ts17") for arch in zoo.BENCH}
MODELS |= {
    arch: f"torchvision {arch}, TorchScript export at opset 17, seeded random weights (models/zoo.py)"
    for arch in ZOO_MODELS
}
ZOO_PYTHON = ROOT / "build" / "zoo-venv" / "bin" / "python"


def zoo_model(name):
    """The zoo's file for a bench model, exported first if missing (needs `make zoo`'s venv)."""
    spec = ZOO_MODELS[name]
    path = zoo.folder(spec) / "model.onnx"
    if not (zoo.folder(spec) / "meta.json").exists():
        if not ZOO_PYTHON.exists():
            sys.exit(f"missing {ZOO_PYTHON.relative_to(ROOT)}: run `make zoo` (or `make bench BENCH_ARGS=--zoo`)")
        log(f"exporting {spec.name} (models/zoo.py)")
        subprocess.run(
            [str(ZOO_PYTHON), str(ROOT / "models" / "zoo.py"), "--only", spec.name],
            check=True,
            cwd=ROOT,
            stdout=sys.stderr,
        )
    return path, path.parent


def prepare_models(names):
    """name -> (onnx path, folder to grant as /models): generated ones are cached in
    build/bench/models, keyed on their generators' sources."""
    folder = OUT / "models"
    folder.mkdir(parents=True, exist_ok=True)
    py = sys.executable
    recipes = {
        "mobilenetv2-zoo": (
            [ROOT / "models" / "mobilenetv2.py", ROOT / "models" / "onnx_graph.py"],
            lambda out: [py, str(ROOT / "models" / "mobilenetv2.py"), str(out), "--seed", "1"],
        ),
        "mobilenetv2-torch": (
            [ROOT / "tests" / "torch_mobilenetv2.py", ROOT / "models" / "mobilenetv2.py"],
            lambda out: [py, str(ROOT / "tests" / "torch_mobilenetv2.py"), str(out)],
        ),
    }
    paths = {}
    for name in names:
        built = {"efficientnet-lite0": (DEFAULT_MODEL, ""), "efficientnet-lite0-int8": (INT8_MODEL, " QUANT=int8")}
        if name in built:
            path, quant = built[name]
            if not path.exists():
                sys.exit(f"missing {path.relative_to(ROOT)}: run `make model{quant}`")
            paths[name] = (path, path.parent)
            continue
        if name in QUANTIZED:
            paths[name] = (quantized(folder, name, prepare_models([QUANTIZED[name]])[QUANTIZED[name]][0]), folder)
            continue
        if name in ZOO_MODELS:
            paths[name] = zoo_model(name)
            continue
        sources, command = recipes[name]
        out = folder / f"{name}.onnx"
        if stale(out, sources):
            log(f"generating {out.relative_to(ROOT)}")
            subprocess.run(command(out), check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
            made(out, sources)
        if name == "mobilenetv2-torch":  # the torch CLI writes no sidecar; same convention as zoo
            from models.mobilenetv2 import TORCHVISION_SIDECAR

            out.with_suffix(".json").write_text(json.dumps({"name": name, **TORCHVISION_SIDECAR}))
        paths[name] = (out, folder)
    labels = ROOT / "models" / "imagenet_classes.txt"
    if not (folder / labels.name).exists():
        shutil.copyfile(labels, folder / labels.name)
    return paths


# What an int8 model is made by (the Makefile's int8 model rule lists the same files).
QUANTIZE_RECIPE = ("quantize_int8.py", "bias_correction.py", "weight_rounding.py", "registry_photos.py")


def quantized(folder, name, source):
    """`source` quantized by models/quantize_int8.py into folder/name.onnx (cached on both)."""
    from models import quantize_int8

    out = folder / f"{name}.onnx"
    sources = [source, *(ROOT / "models" / f for f in QUANTIZE_RECIPE)]
    sidecar = json.loads(source.with_suffix(".json").read_text())
    if stale(out, sources):
        log(f"quantizing {source.name} into {out.relative_to(ROOT)}")
        with contextlib.redirect_stdout(sys.stderr):  # stdout carries the table
            quantize_int8.quantize(source, out, sidecar)
        made(out, sources)
    out.with_suffix(".json").write_text(json.dumps(dict(sidecar, name=name)))
    return out


def _key_file(out):
    return out.parent / f".{out.stem}.key"


def stale(out, sources):
    """Whether `out` is missing or was made from other versions of `sources` (see made)."""
    key_file = _key_file(out)
    return not (out.exists() and key_file.exists() and key_file.read_text() == digest(*sources))


def made(out, sources):
    """Records that `out` was just made from `sources` (their digest, in a key file beside it)."""
    _key_file(out).write_text(digest(*sources))
