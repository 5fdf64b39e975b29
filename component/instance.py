"""The classifier of this instance: MODEL_PATH's model (the model_path setting, in a folder the
host grants), loaded on first use; otherwise the model embedded at build time (`make component`
snapshots the default model already planned, so a fresh instance, one per HTTP request on Spin
and `wasmtime serve`, starts with it ready).
"""

import settings
from classifier import Classifier
from errors import ModelUnavailable

_embedded = None  # set by preload()
_from_file = None


def load_embedded():
    """The model of the build-time snapshot, when `make component` embedded one."""
    try:
        import embedded_model
    except ImportError:
        return None
    return Classifier(embedded_model.PATH, source="embedded")


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
