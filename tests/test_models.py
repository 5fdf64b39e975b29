"""Native checks of models/: the label list, the EfficientNet-Lite0 conversion and its
sidecar, the seeded MobileNetV2 fixtures (model-zoo style and torch-exported).

Everything generated goes to pytest's tmp dirs; the only thing cached outside them is
the pinned efficientnet-lite0 wheel, in build/downloads/.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

ROOT = Path(__file__).resolve().parent.parent
for p in (ROOT, ROOT / "tests"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

from models import efficientnet_lite0 as effnet  # noqa: E402
from models import imagenet_labels, mobilenetv2, onnx_graph, torch_state_dict  # noqa: E402

LABELS_PATH = ROOT / "models" / "imagenet_classes.txt"


def session(model) -> ort.InferenceSession:
    data = model.SerializeToString() if isinstance(model, onnx.ModelProto) else str(model)
    return ort.InferenceSession(data, providers=["CPUExecutionProvider"])


def op_counts(model: onnx.ModelProto) -> Counter:
    return Counter(n.op_type for n in model.graph.node)


def attrs(node: onnx.NodeProto) -> dict:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


# --- labels ----------------------------------------------------------------------------------
def test_labels_file_is_well_formed():
    raw = LABELS_PATH.read_bytes()
    assert hashlib.sha256(raw).hexdigest() == imagenet_labels.LABELS_SHA256
    text = raw.decode("utf-8")
    assert text.endswith("\n") and "\r" not in text
    labels = text.splitlines()
    assert len(labels) == 1000
    assert labels[0] == "tench" and labels[1] == "goldfish" and labels[-1] == "toilet tissue"
    assert all(label and label == label.strip() for label in labels)
    assert labels[281] == "tabby" and labels[967] == "espresso"


# --- the .pth reader -----------------------------------------------------------------------
def test_state_dict_reader_refuses_arbitrary_globals():
    with pytest.raises(pickle.UnpicklingError):
        torch_state_dict.load_state_dict(pickle.dumps(os.system))


def test_state_dict_reader_matches_torch_both_formats():
    import torch

    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    state = {
        "view": base[:, 1:5:2],
        "transposed": base.t(),
        "offset": base[2:],
        "half": torch.ones(3, dtype=torch.float16) / 3,
        "count": torch.tensor(7),
        "param": torch.nn.Parameter(torch.randn(2, 3)),
    }
    for zip_format in (True, False):
        buf = io.BytesIO()
        torch.save(state, buf, _use_new_zipfile_serialization=zip_format)
        got = torch_state_dict.load_state_dict(buf.getvalue())
        assert list(got) == list(state)
        for k, v in state.items():
            ref = v.detach().numpy()
            assert got[k].dtype == ref.dtype and np.array_equal(got[k], ref), (zip_format, k)


# --- graph helpers -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "size,kernel,stride,pads",
    [
        (224, 3, 2, (0, 1)),
        (112, 5, 2, (1, 2)),
        (112, 3, 1, (1, 1)),
        (7, 5, 1, (2, 2)),
        (225, 3, 2, (1, 1)),
        (14, 1, 1, (0, 0)),
    ],
)
def test_tf_same_padding(size, kernel, stride, pads):
    assert onnx_graph.same_pads(size, kernel, stride) == pads
    assert onnx_graph.conv_out(size, kernel, stride, *pads) == -(-size // stride)


# --- EfficientNet-Lite0 ------------------------------------------------------------------
@pytest.fixture(scope="module")
def effnet_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("effnet")
    assert effnet.main([str(out), "--no-verify"]) == 0
    return out


def test_effnet_sidecar_is_what_the_app_reads(effnet_dir):
    import model_bundle
    import preprocess

    path = effnet_dir / "efficientnet-lite0.onnx"
    assert json.loads(path.with_suffix(".json").read_text()) == effnet.SIDECAR  # written as declared
    # ... and read by the app as Lite0 was trained: shorter side 256, bicubic, central 224,
    # (x / 255 - 0.5) / 0.5; the labels in ImageNet order.
    settings = model_bundle.read_settings(path, {})
    assert preprocess.Preprocessing.from_settings(settings).settings() == {
        "input_size": 224,
        "resize": 256,
        "mean": (0.5, 0.5, 0.5),
        "std": (0.5, 0.5, 0.5),
        "interpolation": "bicubic",
    }
    assert model_bundle.read_labels(settings["labels"], effnet_dir, 1000) == LABELS_PATH.read_text().splitlines()
    assert effnet.WHEEL_SHA256 in settings["source"] and settings["license"].startswith("Apache-2.0")


def test_effnet_graph(effnet_dir):
    model = onnx.load(str(effnet_dir / "efficientnet-lite0.onnx"))
    onnx.checker.check_model(model, full_check=True)
    assert model.opset_import[0].version == 13
    ops = op_counts(model)
    assert ops == {
        "Conv": 49,
        "BatchNormalization": 49,
        "Clip": 33,
        "Add": 9,
        "GlobalAveragePool": 1,
        "Flatten": 1,
        "Gemm": 1,
    }
    bn_eps = {attrs(n)["epsilon"] for n in model.graph.node if n.op_type == "BatchNormalization"}
    assert np.allclose(list(bn_eps), 1e-3)
    # TF "same" padding of the stride-2 convs is asymmetric
    stem = model.graph.node[0]
    assert stem.op_type == "Conv" and attrs(stem)["pads"] == [0, 0, 1, 1]
    depthwise = [n for n in model.graph.node if n.op_type == "Conv" and attrs(n)["group"] > 1]
    assert sorted({attrs(n)["kernel_shape"][0] for n in depthwise}) == [3, 5]
    meta = {p.key: p.value for p in model.metadata_props}
    assert {
        k: json.loads(v) if k in ("input_size", "resize", "mean", "std") else v for k, v in meta.items()
    } == effnet.SIDECAR
    n_params = sum(
        numpy_helper.to_array(t).size for t in model.graph.initializer if not t.name.endswith((".min", ".max"))
    )
    assert 4_600_000 < n_params < 4_700_000


def test_effnet_ranks_photos(effnet_dir):
    labels = effnet.read_labels(effnet_dir / "imagenet_classes.txt")
    results = effnet.verify(effnet_dir / "efficientnet-lite0.onnx", effnet.SIDECAR, labels, quiet=True)
    assert results["chelsea"][0][0] in ("tiger cat", "Egyptian cat", "tabby")
    top3 = {name for name, _ in results["chelsea"][:3]}
    assert top3 <= {"tiger cat", "Egyptian cat", "tabby", "lynx"}
    assert results["coffee"][0][0] == "espresso" and results["coffee"][0][1] > 0.8


# --- MobileNetV2, model-zoo style ----------------------------------------------------------
@pytest.fixture(scope="module")
def zoo_model():
    return mobilenetv2.build_mobilenetv2_zoo_style(seed=0)


def test_zoo_style_layout(zoo_model):
    onnx.checker.check_model(zoo_model, full_check=True)
    assert zoo_model.opset_import[0].version == 10
    ops = op_counts(zoo_model)
    assert ops == {"Conv": 53, "BatchNormalization": 52, "Clip": 35, "Add": 10, "GlobalAveragePool": 1, "Reshape": 1}
    for node in zoo_model.graph.node:
        if node.op_type == "Clip":  # opset-10 form: bounds are attributes, one input
            assert len(node.input) == 1 and attrs(node) == {"min": 0.0, "max": 6.0}
    *_, pool, head, reshape = zoo_model.graph.node
    assert (pool.op_type, head.op_type, reshape.op_type) == ("GlobalAveragePool", "Conv", "Reshape")
    inits = {t.name: numpy_helper.to_array(t) for t in zoo_model.graph.initializer}
    assert inits[head.input[1]].shape == (1000, 1280, 1, 1) and len(head.input) == 3
    assert inits[reshape.input[1]].tolist() == [0, -1]
    # batch norms are far from identity, so folding them is really tested
    for node in (n for n in zoo_model.graph.node if n.op_type == "BatchNormalization"):
        gamma, beta, mean, var = (inits[name] for name in node.input[1:])
        assert np.ptp(gamma) > 0.1 and np.abs(beta).max() > 0.01
        assert np.abs(mean).max() > 0.01 and np.abs(var - 1).max() > 0.1 and var.min() > 0


def test_zoo_style_runs_and_is_seeded(zoo_model):
    x = np.random.default_rng(5).standard_normal((2, 3, 224, 224)).astype(np.float32)
    sess = session(zoo_model)
    assert [i.name for i in sess.get_inputs()] == ["data"]
    y = sess.run(None, {"data": x})[0]
    assert y.shape == (2, 1000) and np.isfinite(y).all()
    assert 0.1 < y.std() < 10  # activations stayed O(1)
    again = mobilenetv2.build_mobilenetv2_zoo_style(seed=0)
    assert again.SerializeToString() == zoo_model.SerializeToString()
    other = session(mobilenetv2.build_mobilenetv2_zoo_style(seed=1)).run(None, {"data": x})[0]
    assert not np.allclose(other, y)
    ten = mobilenetv2.build_mobilenetv2_zoo_style(seed=0, num_classes=10)
    assert session(ten).run(None, {"data": x})[0].shape == (2, 10)


# --- MobileNetV2 exported by torch.onnx.export ------------------------------------------------
def test_torch_exported_mobilenetv2(tmp_path):
    import torch
    import torch_mobilenetv2

    path = tmp_path / "mobilenetv2-torch.onnx"
    model = torch_mobilenetv2.export_torchvision_style_mobilenetv2(path, seed=0)
    onnx_model = onnx.load(str(path))
    onnx.checker.check_model(onnx_model, full_check=True)
    ops = op_counts(onnx_model)
    # the exporter folded every BatchNorm into its Conv; ReLU6 is Clip with bound inputs
    assert "BatchNormalization" not in ops
    assert ops["Conv"] == 52 and ops["Clip"] == 35 and ops["Add"] == 10
    assert ops["GlobalAveragePool"] == 1 and ops["Flatten"] == 1 and ops["Gemm"] == 1
    assert all(len(n.input) == 3 for n in onnx_model.graph.node if n.op_type == "Clip")

    x = torch.randn(3, 3, 224, 224, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        ref = model(x).numpy()
    got = session(path).run(None, {"input": x.numpy()})[0]
    assert got.shape == (3, 1000)
    assert np.abs(got - ref).max() < 1e-4
