"""The deployment files agree with the build: spin.toml (Spin manifest v2) and the Dockerfile.
No Spin CLI and no Docker engine run here, so these check what can be checked without them."""
import re
import tomllib

import wasmtime
import wasmtime.component as wc

from conftest import MODEL, ROOT, WASM, require

# What a wasi:http@0.2 component may import to run on any such host (Spin, wasmtime serve):
# WASI 0.2 interfaces only, none of Spin's own.
PORTABLE_IMPORTS = re.compile(r"wasi:(?:(?:cli|clocks|filesystem|io|random|sockets)/[\w-]+|http/types)@0\.2\.\d+")


def manifest():
    return tomllib.loads((ROOT / "spin.toml").read_text())


def test_spin_manifest_v2_serves_the_built_component_with_only_the_model_folder():
    require(WASM, MODEL)
    spin = manifest()
    assert spin["spin_manifest_version"] == 2
    assert spin["application"]["name"]
    [trigger] = spin["trigger"]["http"]
    assert trigger["route"] == "/..."
    component = spin["component"][trigger["component"]]
    assert (ROOT / component["source"]).resolve() == WASM
    [grant] = component["files"]
    assert (ROOT / grant["source"]).resolve() == MODEL.parent and grant["destination"] == "/models"
    assert component["allowed_outbound_hosts"] == []
    assert set(component) <= {"source", "files", "allowed_outbound_hosts", "environment", "build"}
    assert "make component" in component["build"]["command"]


def test_component_is_a_plain_wasi_http_handler():
    require(WASM)
    engine = wasmtime.Engine(_cached())
    kind = wc.Component.from_file(engine, str(WASM)).type
    assert "wasi:http/incoming-handler@0.2.0" in kind.exports(engine)
    imports = list(kind.imports(engine))
    assert imports and all(PORTABLE_IMPORTS.fullmatch(name) for name in imports), imports


def _cached():
    config = wasmtime.Config()
    config.cache = True
    return config


def test_dockerfile_copies_what_the_build_makes():
    require(WASM, MODEL)
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM \S+ AS (\w+)", dockerfile, re.M)
    assert stages == ["builder", "spin", "runtime"]
    assert re.search(r"^RUN make component model\b", dockerfile, re.M)
    copied = re.findall(r"^COPY --from=builder /src/(\S+) ", dockerfile, re.M)
    assert copied and all((ROOT / path).exists() for path in copied), copied
    # The runtime stage has what spin.toml names.
    component = manifest()["component"]["classifier"]
    assert component["source"] in copied and component["files"][0]["source"] in copied
    assert dockerfile.rstrip().endswith('CMD ["spin", "up", "--listen", "0.0.0.0:3000"]')
