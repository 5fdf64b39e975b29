"""component/settings.py: natively (parsing, errors, read once per instance), then inside the
component: the environment under wasmtime-py for build/classifier.wasm, and Spin variables
(a host-provided wasi:config/store, as Spin 3 provides it) for build/classifier-spin.wasm."""

import dataclasses

import pytest

from conftest import MODEL, ROOT, SPIN_WASM, WASM, require
from host.exports import CLASSIFIER, Export
from host.runtime import Grants, Runtime
from photos import CAT_CLASSES, CHELSEA_JPEG

import api
import settings
from test_deploy import SPIN_VARIABLES


def test_defaults_and_parsing(configure):
    configure()
    assert settings.get() == settings.Settings()
    configure(
        CORS_ORIGINS=" https://A.example,http://localhost:8080  https://b.example ",
        MAX_BATCH="4",
        BODY_SECONDS="2.5",
        MODEL_PATH="/models/x.onnx",
    )
    got = settings.get()
    assert got.cors_origins == ("https://a.example", "http://localhost:8080", "https://b.example")
    assert (got.max_batch, got.body_seconds, got.model_path) == (4, 2.5, "/models/x.onnx")


def test_the_readme_lists_the_settings_as_declared():
    """The README's table is settings.markdown(): names, defaults, ceilings and their reasons."""
    assert settings.markdown() in (ROOT / "README.md").read_text()


def test_read_once_per_instance(configure, monkeypatch):
    configure(MAX_BATCH="3")
    assert settings.get().max_batch == 3
    monkeypatch.setenv("MAX_BATCH", "5")  # an instance never sees its environment change
    assert settings.get().max_batch == 3


def over_ceiling(name):
    return str(settings.FIELDS[name].metadata["parse"].ceiling + 1)


@pytest.mark.parametrize(
    "name,value",
    [
        ("MAX_BATCH", "0"),
        ("MAX_BATCH", "lots"),
        ("MAX_BATCH", over_ceiling("max_batch")),
        ("MAX_BODY_BYTES", over_ceiling("max_body_bytes")),
        ("MAX_PIXELS", "-1"),
        ("BODY_SECONDS", "nan"),
        ("BODY_SECONDS", "0"),
        ("DEFAULT_TOP_K", "1.5"),
        ("CORS_MAX_AGE", "\u0661\u0662"),
    ],
)
def test_a_bad_value_is_a_503_naming_the_setting(configure, name, value):
    configure(MODEL_PATH=str(MODEL), **{name: value})
    for path in ["/healthz", "/model", "/v2/health/ready"]:
        response = api.handle(api.Request("GET", path, {}))
        assert response.status == 503 and name.encode() in response.body, path


def test_limits_apply(configure):
    require(MODEL)
    configure(MODEL_PATH=str(MODEL), DEFAULT_TOP_K="2", MAX_PIXELS="1000")
    assert api.handle(api.Request("POST", "/predict", {}, lambda limit: CHELSEA_JPEG)).status == 422
    configure(MODEL_PATH=str(MODEL), MAX_BODY_BYTES="1000")
    limits = []  # what the handlers ask http_io to enforce
    for path in ["/predict", "/v2/models/efficientnet-lite0/infer"]:
        api.handle(api.Request("POST", path, {}, lambda limit: limits.append(limit) or b""))
    assert limits == [1000, 1000]
    configure(MODEL_PATH=str(MODEL), DEFAULT_TOP_K="2")
    answer = api.handle(api.Request("POST", "/predict", {}, lambda limit: CHELSEA_JPEG))
    assert answer.status == 200 and answer.body.count(b'"index"') == 2


# --- inside the component ---------------------------------------------------------------------


def classify(runtime, grants=None):
    """The predictions, or the error variant, of classify(chelsea, 3) in a fresh instance."""
    grants = grants or Grants(cpu_seconds=None)
    store, instance = runtime.instantiate(grants)
    return Export(runtime, "classify", CLASSIFIER).call(
        store, instance, CHELSEA_JPEG, 3, cpu_seconds=grants.cpu_seconds
    )[1]


def spin_runtime(variables):
    """build/classifier-spin.wasm with a wasi:config/store that serves `variables`, as Spin does."""
    runtime = Runtime(SPIN_WASM, cpu_cap=False)
    store = runtime.linker.root().add_instance(SPIN_VARIABLES)
    store.add_func("get", lambda _, key: variables.get(key))
    store.add_func("get-all", lambda _: list(variables.items()))
    return runtime


@pytest.mark.component
def test_the_environment_reaches_the_component():
    require(WASM)
    runtime = Runtime(WASM, cpu_cap=False)
    assert classify(runtime)[0].index in CAT_CLASSES
    refused = classify(runtime, Grants(env={"MAX_PIXELS": "1000"}, cpu_seconds=None))
    assert refused.tag == "image-too-large"


@pytest.mark.component
def test_spin_variables_reach_the_spin_build():
    require(SPIN_WASM)
    names = {f.name: "" for f in dataclasses.fields(settings.Settings)}  # spin.toml's empty defaults
    assert classify(spin_runtime(names))[0].index in CAT_CLASSES
    refused = classify(spin_runtime({**names, "max_pixels": "1000"}))
    assert refused.tag == "image-too-large"
    # A variable left empty falls back to the environment, then to the default.
    refused = classify(spin_runtime(names), Grants(env={"MAX_PIXELS": "1000"}, cpu_seconds=None))
    assert refused.tag == "image-too-large"
    bad = classify(spin_runtime({**names, "max_pixels": "many"}))
    assert bad.tag == "bad-model" and "MAX_PIXELS" in bad.payload
