"""The deployment files agree with the build: spin.toml (Spin manifest v2). No Spin CLI runs
here, so these check what can be checked without it (the Dockerfile: tests/test_image.py)."""

import dataclasses
import re
import tomllib

import pytest
import wasmtime
import wasmtime.component as wc

from conftest import MODEL, ROOT, SPIN_WASM, WASM, require

import settings

# What a wasi:http@0.2 component may import to run on any such host (Spin, wasmtime serve):
# WASI 0.2 interfaces only, none of Spin's own.
PORTABLE_IMPORTS = re.compile(r"wasi:(?:(?:cli|clocks|filesystem|io|random|sockets)/[\w-]+|http/types)@0\.2\.\d+")
# The one more import of the Spin build: the variables interface at the version Spin 3 provides.
SPIN_VARIABLES = "wasi:config/store@0.2.0-draft-2024-09-27"


def manifest():
    return tomllib.loads((ROOT / "spin.toml").read_text())


@pytest.mark.component
def test_spin_manifest_v2_serves_the_built_component_with_only_the_model_folder():
    require(SPIN_WASM, MODEL)
    spin = manifest()
    assert spin["spin_manifest_version"] == 2
    assert spin["application"]["name"]
    [trigger] = spin["trigger"]["http"]
    assert trigger["route"] == "/..."
    component = spin["component"][trigger["component"]]
    assert (ROOT / component["source"]).resolve() == SPIN_WASM
    [grant] = component["files"]
    assert (ROOT / grant["source"]).resolve() == MODEL.parent and grant["destination"] == "/models"
    assert component["allowed_outbound_hosts"] == []
    assert set(component) <= {"source", "files", "allowed_outbound_hosts", "environment", "variables", "build"}
    assert component["build"]["command"] == "make spin-component model"
    watched = {path for pattern in component["build"]["watch"] for path in ROOT.glob(pattern)}
    assert ROOT / "component" / "api.py" in watched and ROOT / "wit" / "classifier.wit" in watched


def test_spin_variables_are_the_settings():
    """Every setting is an application variable (empty default: the component's own) that the
    component sees under the same name."""
    spin = manifest()
    names = [f.name for f in dataclasses.fields(settings.Settings)]
    assert list(spin["variables"]) == names
    assert all(variable == {"default": ""} for variable in spin["variables"].values())
    assert spin["component"]["classifier"]["variables"] == {name: f"{{{{ {name} }}}}" for name in names}
    # The Makefile passes the same settings to wasmtime serve's environment.
    makefile = (ROOT / "Makefile").read_text()
    [listed] = re.findall(r"^SETTINGS := (.*)$", makefile, re.M)
    assert listed.split() == [name.upper() for name in names if name != "model_path"]


def imports_of(wasm):
    engine = wasmtime.Engine(_cached())
    kind = wc.Component.from_file(engine, str(wasm)).type
    assert "wasi:http/incoming-handler@0.2.0" in kind.exports(engine)
    return list(kind.imports(engine))


@pytest.mark.component
def test_component_is_a_plain_wasi_http_handler():
    require(WASM)
    imports = imports_of(WASM)
    assert imports and all(PORTABLE_IMPORTS.fullmatch(name) for name in imports), imports


@pytest.mark.component
def test_spin_build_adds_only_the_variables_interface():
    require(WASM, SPIN_WASM)
    assert sorted(imports_of(SPIN_WASM)) == sorted([*imports_of(WASM), SPIN_VARIABLES])


def _cached():
    config = wasmtime.Config()
    config.cache = True
    return config
