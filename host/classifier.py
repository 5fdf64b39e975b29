"""The classifier component seen from Python: classify images offline, in the sandbox.

    classifier = ComponentClassifier()                        # build/classifier.wasm, embedded model
    classifier = ComponentClassifier(model="m.onnx")          # any supported ONNX file instead
    classifier.classify(image_bytes, top_k=5)                 # -> [{"index", "label", "score"}, ...]
    classifier = ComponentClassifier(image_dirs=["photos"])   # those folders granted, read-only
    classifier.classify_file("photos/cat.jpg")                # the component reads the file itself

With a model file, its folder (only) is granted to the component, read-only, at /models; each
of image_dirs at /images/N (or where it is already granted). Passing bytes to `classify` costs
~0.65 us per byte (wasmtime-py lowers a list<u8> one element at a time: 1.3 s for a 2 MB
photo); `classify_file` passes a path, and the component reads the granted file.

One instance serves every call (unless instance_per_call), until a call fails: then the next
call gets a fresh instance, so that one bad image fails alone. A trap or the CPU cap leaves an
instance unusable, and a failure can leave it short of memory even when it is reported as
something else (linear memory never shrinks: seen after a 16 Mpx PNG refused as image-too-large
at a 112 MiB cap, the next photo ran out of memory in the same instance). A fresh instance
costs ~10 ms with the embedded model (the model load with --model).
"""

from pathlib import Path

from host.exports import CLASSIFIER, Export
from host.runtime import Grants, LimitExceeded, Runtime, Trapped

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_WASM = ROOT / "build" / "classifier.wasm"
FUNCTIONS = ("classify", "classify-file", "model-info")


class ClassifyError(Exception):
    """The component refused an input or failed: `kind` is the case of the interface's `error`
    variant, or `limit` (the CPU cap) or `trap` (the instance trapped)."""

    def __init__(self, kind, message):
        super().__init__(f"{kind}: {message}")
        self.kind = kind


class ComponentClassifier:
    def __init__(self, wasm=DEFAULT_WASM, model=None, instance_per_call=False, grants=None, image_dirs=()):
        self.grants = grants or Grants()
        self.runtime = Runtime(wasm, cpu_cap=self.grants.cpu_seconds is not None)
        dirs = dict(self.grants.dirs)
        if model is not None:
            model = Path(model).resolve()
            dirs[model.parent] = "/models"
            self.grants.env = {**self.grants.env, "MODEL_PATH": f"/models/{model.name}"}
        for n, folder in enumerate(dict.fromkeys(Path(d).resolve() for d in image_dirs)):
            dirs.setdefault(folder, f"/images/{n}")
        self.grants.dirs = dirs
        self.instance_per_call = instance_per_call
        self.instances = 0  # how many instances calls have had so far
        self._instance = None
        self._exports = None  # resolved on first use: the probe tests borrow this class's grants

    def classify(self, image, top_k=5):
        return _predictions(self._call("classify", bytes(image), top_k))

    def classify_file(self, path, top_k=5):
        """Classifies a file in one of image_dirs, read inside the sandbox."""
        path = Path(path).resolve()
        guest = self.grants.dirs.get(path.parent)
        if guest is None:
            raise ValueError(f"{path.parent} is not granted to the component (image_dirs)")
        return _predictions(self._call("classify-file", f"{guest}/{path.name}", top_k))

    def info(self):
        info = vars(self._call("model-info"))
        info["op-counts"] = dict(info["op-counts"])
        return {key.replace("-", "_"): value for key, value in info.items()}

    def _call(self, name, *args):
        if self._exports is None:
            self._exports = {f: Export(self.runtime, f, CLASSIFIER) for f in FUNCTIONS}
        try:
            if self._instance is None:
                self.instances += 1
            store, instance = self._instance or self.runtime.instantiate(self.grants)
            self._instance = None if self.instance_per_call else (store, instance)
            ok, payload = self._exports[name].call(store, instance, *args, cpu_seconds=self.grants.cpu_seconds)
        except Trapped as e:
            self._instance = None  # a trapped instance cannot be entered again
            raise ClassifyError("limit" if isinstance(e, LimitExceeded) else "trap", str(e)) from None
        if not ok:
            self._instance = None  # the failure may have spoiled it (see above)
            raise ClassifyError(payload.tag, payload.payload)
        return payload


def _predictions(predictions):
    return [{"index": p.index, "label": p.label, "score": p.score} for p in predictions]
