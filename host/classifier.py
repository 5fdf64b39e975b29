"""The classifier component seen from Python: classify images offline, in the sandbox.

    classifier = ComponentClassifier()                    # build/classifier.wasm, embedded model
    classifier = ComponentClassifier(model="m.onnx")      # any supported ONNX file instead
    classifier.classify(image_bytes, top_k=5)             # -> [{"index", "label", "score"}, ...]

With a model file, its folder (only) is granted to the component, read-only, at /models.
"""
from pathlib import Path

from host.runtime import Grants, LimitExceeded, Runtime, call

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_WASM = ROOT / "build" / "classifier.wasm"
INTERFACE = "imgcls:classifier/classify@0.2.0"
# The cases of its `error` variant (wit/classifier.wit).
ERROR_CASES = ("bad-request", "not-an-image", "unsupported-format", "image-too-large", "bad-model",
               "out-of-memory", "internal")


class ClassifyError(Exception):
    """The component refused an input or failed; `kind` is its error case (or `limit`)."""

    def __init__(self, kind, message):
        super().__init__(f"{kind}: {message}")
        self.kind = kind


class ComponentClassifier:
    def __init__(self, wasm=DEFAULT_WASM, model=None, instance_per_call=False, grants=None):
        self.grants = grants or Grants()
        self.runtime = Runtime(wasm, cpu_cap=self.grants.cpu_seconds is not None)
        if model is not None:
            model = Path(model).resolve()
            self.grants.dirs = {model.parent: "/models"}
            self.grants.env = {**self.grants.env, "MODEL_PATH": f"/models/{model.name}"}
        self.instance_per_call = instance_per_call
        self._instance = None

    def classify(self, image, top_k=5):
        predictions = self._call("classify", bytes(image), top_k)
        return [{"index": p.index, "label": p.label, "score": p.score} for p in predictions]

    def info(self):
        info = vars(self._call("model-info"))
        info["op-counts"] = dict(info["op-counts"])
        return {key.replace("-", "_"): value for key, value in info.items()}

    def _call(self, name, *args):
        try:
            store, funcs = self._instance or self._instantiate()
            if not self.instance_per_call:
                self._instance = (store, funcs)
            result = call(store, funcs[name], *args, cpu_seconds=self.grants.cpu_seconds)
        except LimitExceeded as e:
            self._instance = None  # a trapped instance cannot be entered again
            raise ClassifyError("limit", str(e)) from None
        # wasmtime-py unwraps results: the ok value, or the error variant itself.
        if getattr(result, "tag", None) in ERROR_CASES:
            raise ClassifyError(result.tag, result.payload)
        return result

    def _instantiate(self):
        store, instance = self.runtime.instantiate(self.grants)
        interface = instance.get_export_index(store, INTERFACE)
        funcs = {name: instance.get_func(store, instance.get_export_index(store, name, interface))
                 for name in ("classify", "model-info")}
        return store, funcs
