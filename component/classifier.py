"""The classifier of one instance: a model loaded once, then bytes -> ranked classes.

Which model: the file at MODEL_PATH when that is set (in a folder the host grants), loaded on
first use; otherwise the model embedded at build time (`make component` snapshots the default
model already planned, so a fresh instance, one per HTTP request on Spin and `wasmtime serve`,
starts with it ready). Beside `NAME.onnx` an optional sidecar `NAME.json` gives the
preprocessing (see preprocess.Preprocessing), a display name and the class labels (a list, or
a file name in the same folder); ONNX metadata_props with the same keys are read when there is
no sidecar.
"""
import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np

import engine
import preprocess
from errors import BadRequest, ModelUnavailable


def read_settings(model_path, metadata):
    """Sidecar JSON beside the model, else the ONNX metadata_props (values as JSON), else {}."""
    sidecar = model_path.with_suffix(".json")
    if sidecar.exists():
        return json.loads(sidecar.read_text())
    settings = {}
    for key, value in metadata.items():
        try:
            settings[key] = json.loads(value)
        except ValueError:
            settings[key] = value
    return settings


def read_labels(labels, folder, count):
    """Class names from a list or a one-per-line file; `class N` where there are none."""
    if isinstance(labels, str):
        labels = (folder / labels).read_text().splitlines()
    labels = list(labels or [])
    if labels and len(labels) != count:
        raise ModelUnavailable(f"{len(labels)} labels for a model with {count} classes")
    return labels or [f"class {i}" for i in range(count)]


def read_file(path):
    """The file's bytes in a bytearray (mutable, so they can be zeroed once used)."""
    with open(path, "rb") as f:
        data = bytearray(os.fstat(f.fileno()).st_size)
        f.readinto(data)
    return data


def softmax(logits):
    shifted = np.exp(logits - logits.max())
    return shifted / shifted.sum()


class Classifier:
    def __init__(self, model_path, source="file"):
        started = time.perf_counter()
        self.source = source
        self.path = Path(model_path)
        try:
            data = read_file(self.path)
            self.model = engine.load_model(data)
        except OSError as e:
            raise ModelUnavailable(f"cannot read model {self.path}: {e.strerror}") from None
        except engine.ModelError as e:
            raise ModelUnavailable(f"model {self.path}: {e}") from None
        # Hashing 19 MB takes ~45 ms inside the component, a third of a load per instance:
        # done at build time for an embedded model, else when GET /model first asks.
        self._sha256 = hashlib.sha256(data).hexdigest() if source == "embedded" else None
        # The plan holds no view of the file's bytes. Zeroed, their freed memory costs nothing
        # in the build-time snapshot of an embedded model (which stores non-zero pages only).
        np.frombuffer(data, np.uint8).fill(0)
        self.num_classes = int(self.model.output_shape[-1])
        try:
            settings = read_settings(self.path, self.model.info.get("metadata", {}))
            self.prep = preprocess.Preprocessing.from_settings(settings)
            self.labels = read_labels(settings.get("labels"), self.path.parent, self.num_classes)
        except (OSError, TypeError, ValueError) as e:  # a broken sidecar or labels file
            raise ModelUnavailable(f"settings of {self.path}: {e}") from None
        self.name = settings.get("name", self.path.stem)
        # The default model ends in logits; a graph that ends in Softmax already gives scores.
        self.outputs_probabilities = self.model.info["output_op"] == "Softmax"
        self.load_ms = (time.perf_counter() - started) * 1000

    def classify(self, data, top_k):
        """Encoded image -> (top_k predictions best first, timings in ms); top_k >= 1, and
        more than the model has classes gives them all."""
        if top_k < 1:
            raise BadRequest(f"top_k must be a positive integer, got {top_k}")
        top_k = min(top_k, self.num_classes)
        t0 = time.perf_counter()
        x = preprocess.preprocess(data, self.prep)  # (1, 3, S, S)
        t1 = time.perf_counter()
        logits = self.model.run(x)[0]  # (num_classes,)
        t2 = time.perf_counter()
        scores = logits if self.outputs_probabilities else softmax(logits.astype(np.float64))
        ranked = np.argsort(-scores, kind="stable")[:top_k]
        predictions = [{"index": int(i), "label": self.labels[i], "score": float(scores[i])} for i in ranked]
        timings = {"preprocess": (t1 - t0) * 1000, "inference": (t2 - t1) * 1000}
        return predictions, timings

    @property
    def sha256(self):
        """Of the model file (for a file model: as it is when first asked)."""
        if self._sha256 is None:
            self._sha256 = hashlib.sha256(read_file(self.path)).hexdigest()
        return self._sha256

    def info(self):
        return {
            "name": self.name,
            "source": self.source,
            "path": str(self.path) if self.source == "file" else None,
            "sha256": self.sha256,
            "input_size": self.prep.input_size,
            "num_classes": self.num_classes,
            "parameters": self.model.info["parameters"],
            "op_counts": self.model.info["op_counts"],
            "preprocessing": vars(self.prep),
            "load_ms": round(self.load_ms, 1),
        }


def load_embedded():
    """The model of the build-time snapshot, when `make component` embedded one."""
    try:
        import embedded_model
    except ImportError:
        return None
    return Classifier(embedded_model.PATH, source="embedded")


_embedded = load_embedded()
_from_file = None


def get():
    """This instance's classifier: MODEL_PATH's model (loaded on first use) or the embedded one."""
    global _from_file
    path = os.environ.get("MODEL_PATH")
    if path:
        if _from_file is None:
            _from_file = Classifier(path)
        return _from_file
    if _embedded is None:
        raise ModelUnavailable("no model: this build embeds none and MODEL_PATH is not set")
    return _embedded
