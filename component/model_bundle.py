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


# Memory an instance needs besides a model's plan (which holds about as much as the file's
# weights): the runtime, numpy and Pillow, the embedded default model, the largest weight while
# it is packed, and one image's activations. Measured: see docs/model-files.md.
WORKING_SET_MIB = 128


def file_sha256(path):
    """Of the file's bytes, read in pieces (a model file may be hundreds of MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def out_of_memory(path, size):
    """What to tell when loading the model ran the instance out of memory."""
    mib = size >> 20
    return (
        f"model {path}: out of memory while loading it: a {mib} MiB model needs an instance memory cap of "
        f"about {mib + WORKING_SET_MIB} MiB (its planned weights + {WORKING_SET_MIB} MiB); raise it with "
        "SERVE_MEMORY (make serve, bytes), --memory-mib (python -m host) or Grants(memory_limit=...), "
        "or on SpinKube the SpinApp's resources.limits.memory"
    )


class Bundle:
    """The model file at `model_path` and what goes with it; ModelUnavailable if any is broken.
    `source` is "embedded" for the model `make component` snapshots, else "file"."""

    def __init__(self, model_path, source="file"):
        started = time.perf_counter()
        self.source = source
        self.path = Path(model_path)
        size = 0
        try:
            # From the open file: the engine reads each weight when it plans it, so the file's
            # bytes are never all in memory besides the plan (docs/model-files.md).
            with open(self.path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                self.model = engine.load_model(f)
        except OSError as e:
            raise ModelUnavailable(f"cannot read model {self.path}: {e.strerror}") from None
        except engine.ModelError as e:
            raise ModelUnavailable(f"model {self.path}: {e}") from None
        except MemoryError:
            raise ModelUnavailable(out_of_memory(self.path, size)) from None
        # Hashing the file takes a third of a load per instance (docs/performance.md): done at
        # build time for an embedded model, else when GET /model first asks.
        self._sha256 = file_sha256(self.path) if source == "embedded" else None
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
            self._sha256 = file_sha256(self.path)
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
