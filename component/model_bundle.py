"""A model bundle on disk, loaded: `NAME.onnx` planned by the engine, with its preprocessing,
display name and class labels.

Beside `NAME.onnx` an optional sidecar `NAME.json` gives the preprocessing (see
preprocess.Preprocessing), a display name and the class labels (a list, or a file name in the
same folder); ONNX metadata_props with the same keys are read when there is no sidecar.
"""
import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np

import engine
import preprocess
from errors import ModelUnavailable


def read_settings(model_path, metadata):
    """Sidecar JSON beside the model, else the ONNX metadata_props (values as JSON), else {}."""
    sidecar = model_path.with_suffix(".json")
    if sidecar.exists():
        return json.loads(sidecar.read_text())
    found = {}
    for key, value in metadata.items():
        try:
            found[key] = json.loads(value)
        except ValueError:
            found[key] = value
    return found


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


class Bundle:
    """The model file at `model_path` and what goes with it; ModelUnavailable if any is broken.
    `source` is "embedded" for the model `make component` snapshots, else "file"."""

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
        # Hashing the file takes a third of a load per instance (docs/performance.md): done at
        # build time for an embedded model, else when GET /model first asks.
        self._sha256 = hashlib.sha256(data).hexdigest() if source == "embedded" else None
        # The plan holds no view of the file's bytes. Zeroed, their freed memory costs nothing
        # in the build-time snapshot of an embedded model (which stores non-zero pages only).
        np.frombuffer(data, np.uint8).fill(0)
        self.num_classes = int(self.model.output_shape[-1])
        try:
            sidecar = read_settings(self.path, self.model.info.get("metadata", {}))
            self.prep = preprocess.Preprocessing.from_settings(sidecar)
            self.labels = read_labels(sidecar.get("labels"), self.path.parent, self.num_classes)
        except (OSError, TypeError, ValueError) as e:  # a broken sidecar or labels file
            raise ModelUnavailable(f"settings of {self.path}: {e}") from None
        self.name = sidecar.get("name", self.path.stem)
        # The default model ends in logits; a graph that ends in Softmax already gives scores.
        self.outputs_probabilities = self.model.info["output_op"] == "Softmax"
        self.load_ms = (time.perf_counter() - started) * 1000

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
            "preprocessing": self.prep.settings(),
            "load_ms": round(self.load_ms, 1),
        }
