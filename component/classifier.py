"""The classifier of one instance: a model loaded once, then encoded images -> probabilities ->
ranked classes, one image or a batch of them (score_batch, classify_batch) in one forward pass.

Which model: the file the model_path setting names (MODEL_PATH; in a folder the host grants),
loaded on first use; otherwise the model embedded at build time (`make component` snapshots the default
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
import errors
import preprocess
import settings
from errors import BadRequest, ModelUnavailable


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
    return (f"model {path}: out of memory while loading it: a {mib} MiB model needs an instance memory cap of "
            f"about {mib + WORKING_SET_MIB} MiB (its planned weights + {WORKING_SET_MIB} MiB); raise it with "
            "SERVE_MEMORY (make serve, bytes), --memory-mib (python -m host) or Grants(memory_limit=...), "
            "or on SpinKube the SpinApp's resources.limits.memory")


def check_batch(count):
    """BadRequest unless 1 <= count <= settings.max_batch images (one request's batch)."""
    if count < 1:
        raise BadRequest("no image in the request")
    limit = settings.get().max_batch
    if count > limit:
        raise BadRequest(f"{count} images in one request; the limit is {limit} (MAX_BATCH)")


def softmax(logits):
    """(N, classes) -> probabilities, per row."""
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


class Classifier:
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
        # Hashing 19 MB takes ~45 ms inside the component, a third of a load per instance:
        # done at build time for an embedded model, else when GET /model first asks.
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

    def score_batch(self, images):
        """Encoded images -> (for each, its probabilities (classes,) float64 or the failure that
        stopped it (errors.POLICY's 4xx: not an image, too large...), timings in ms).

        The decodable images run as one forward pass of batch N when the model's batch dimension
        is symbolic, else in passes of its fixed batch (the last one padded)."""
        check_batch(len(images))
        t0 = time.perf_counter()
        inputs = [self._input(data) for data in images]
        tensors = [x for x in inputs if not isinstance(x, Exception)]
        t1 = time.perf_counter()
        scores = iter(self.probabilities(np.concatenate(tensors)) if tensors else ())
        t2 = time.perf_counter()
        results = [x if isinstance(x, Exception) else next(scores) for x in inputs]
        return results, {"preprocess": (t1 - t0) * 1000, "inference": (t2 - t1) * 1000}

    def _input(self, data):
        """One image's input tensor (1, 3, S, S), or the client-side failure that stops it."""
        try:
            return preprocess.preprocess(data, self.prep, settings.get().max_pixels)
        except Exception as e:
            if errors.policy(e)[0] >= 500:  # out of memory, a bug: the whole request fails
                raise
            return e

    def probabilities(self, x):
        """(N, 3, S, S) float32 -> (N, classes) float64 probabilities."""
        step = self.model.input_shape[0] or len(x)  # a fixed batch, or all at once
        logits = []
        for start in range(0, len(x), step):
            chunk = x[start:start + step]
            if len(chunk) < step:
                chunk = np.concatenate([chunk, np.zeros((step - len(chunk), *chunk.shape[1:]), np.float32)])
            try:
                logits.append(self.model.run(chunk)[:len(x) - start])
            except engine.ModelError as e:  # a graph inconsistent only at run time (symbolic dims)
                raise ModelUnavailable(f"model {self.path}: {e}") from None
        logits = np.concatenate(logits).astype(np.float64)
        return logits if self.outputs_probabilities else softmax(logits)

    def rank(self, scores, top_k):
        """Probabilities (classes,) -> the top_k predictions, best first."""
        ranked = np.argsort(-scores, kind="stable")[:top_k]
        return [{"index": int(i), "label": self.labels[i], "score": float(scores[i])} for i in ranked]

    def classify_batch(self, images, top_k):
        """Encoded images -> (for each, its top_k predictions or its failure, timings in ms);
        top_k >= 1, and more than the model has classes gives them all."""
        if top_k < 1:
            raise BadRequest(f"top_k must be a positive integer, got {top_k}")
        results, timings = self.score_batch(images)
        top_k = min(top_k, self.num_classes)
        return [r if isinstance(r, Exception) else self.rank(r, top_k) for r in results], timings

    def classify(self, data, top_k):
        """One encoded image -> (its top_k predictions, timings in ms)."""
        [result], timings = self.classify_batch([data], top_k)
        if isinstance(result, Exception):
            raise result
        return result, timings

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


def load_embedded():
    """The model of the build-time snapshot, when `make component` embedded one."""
    try:
        import embedded_model
    except ImportError:
        return None
    return Classifier(embedded_model.PATH, source="embedded")


_embedded = None  # set by preload()
_from_file = None


def preload():
    """Loads the embedded model into this (build-time) interpreter. app.py calls it after all
    its imports: what is allocated after the load lands in memory the load freed (each weight
    is read, packed, then released), and every page it dirties there is stored in the snapshot."""
    global _embedded
    _embedded = load_embedded()


def get():
    """This instance's classifier: MODEL_PATH's model (loaded on first use) or the embedded one."""
    global _from_file
    path = settings.get().model_path
    if path:
        if _from_file is None:
            _from_file = Classifier(path)
        return _from_file
    if _embedded is None:
        raise ModelUnavailable("no model: this build embeds none and MODEL_PATH is not set")
    return _embedded
