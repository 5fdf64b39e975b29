"""deploy/ (SpinKube) agrees with itself and with spin.toml. No cluster runs here (deploy/README.md
says what was not run): these check that every manifest parses, that the SpinApp, its
autoscaler, executor and RuntimeClass name each other consistently, and that what the SpinApp
relies on is what spin.toml and the component provide: the probed route, the variables, the
files, the resources an instance needs."""

import re
import tomllib

import pytest
import yaml

from conftest import ROOT

import api
import settings

DEPLOY = ROOT / "deploy"
# A request's instance peaks at 56 MiB (embedded model) to 74 MiB (a model file): docs/performance.md,
# "Peak memory of an instance". A pod must hold at least two at once beside the runtime.
INSTANCE_PEAK_MIB = 74
SPIN_VARIABLE_NAME = re.compile(r"[a-z][a-z0-9_]*")


def manifests():
    """{kind: [document, ...]} of every YAML document under deploy/."""
    found = {}
    for path in sorted(DEPLOY.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            assert isinstance(doc, dict) and {"apiVersion", "kind", "metadata"} <= set(doc), path
            found.setdefault(doc["kind"], []).append(doc)
    return found


@pytest.fixture(scope="module")
def deployed():
    return manifests()


@pytest.fixture(scope="module")
def spinapp(deployed):
    [app] = deployed["SpinApp"]
    assert app["apiVersion"] == "core.spinkube.dev/v1alpha1"
    return app


@pytest.fixture(scope="module")
def spin():
    return tomllib.loads((ROOT / "spin.toml").read_text())


def mebibytes(quantity):
    """A Kubernetes memory quantity (e.g. 384Mi, 1Gi, 500M) in MiB."""
    number, unit = re.fullmatch(r"(\d+(?:\.\d+)?)([KMGT]i?)?", str(quantity)).groups()
    scale = {None: 1, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}[unit]
    return float(number) * scale / 2**20


def millicores(quantity):
    text = str(quantity)
    return float(text[:-1]) if text.endswith("m") else float(text) * 1000


def spin_route_matches(route, path):
    """Spin's HTTP trigger routes: "/prefix/..." matches the prefix and below, others exactly."""
    if route.endswith("/..."):
        prefix = route[: -len("/...")]
        return path == prefix or path.startswith(prefix + "/") or prefix == ""
    return path == route


def test_every_manifest_parses_and_names_itself(deployed):
    assert set(deployed) == {"SpinApp", "HorizontalPodAutoscaler", "SpinAppExecutor", "RuntimeClass", "ConfigMap"}
    for docs in deployed.values():
        assert all(re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", d["metadata"]["name"]) for d in docs)


def test_spinapp_runs_the_pushed_app_on_the_spin_shim(spinapp, spin, deployed):
    spec = spinapp["spec"]
    # The artifact `spin registry push` makes for this spin.toml, tagged with its version.
    repository, tag = spec["image"].rsplit(":", 1)
    assert repository.endswith("/" + spin["application"]["name"]) and tag == spin["application"]["version"]
    [executor] = deployed["SpinAppExecutor"]
    [runtime_class] = deployed["RuntimeClass"]
    assert spec["executor"] == executor["metadata"]["name"] == "containerd-shim-spin"
    assert executor["spec"]["createDeployment"] is True
    assert executor["spec"]["deploymentConfig"]["runtimeClassName"] == runtime_class["metadata"]["name"]
    assert runtime_class["handler"] == "spin"
    # Every component the SpinApp names is in spin.toml (none named: all of them run).
    assert set(spec.get("components", [])) <= set(spin["component"])


def test_autoscaling_targets_the_operators_deployment(spinapp, deployed):
    spec = spinapp["spec"]
    assert spec["enableAutoscaling"] is True and "replicas" not in spec  # the operator refuses both
    [hpa] = deployed["HorizontalPodAutoscaler"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["apiVersion"], target["kind"], target["name"]) == (
        "apps/v1",
        "Deployment",
        spinapp["metadata"]["name"],
    )
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    [metric] = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu" and metric["resource"]["target"]["type"] == "Utilization"
    assert millicores(spec["resources"]["requests"]["cpu"]) > 0  # utilization is relative to it


def test_probes_hit_a_route_the_component_answers_without_the_model(spinapp, spin, monkeypatch):
    monkeypatch.setenv("MODEL_PATH", "/nonexistent/model.onnx")  # a probe must not need the model
    routes = [trigger["route"] for trigger in spin["trigger"]["http"]]
    for kind in ("readiness", "liveness"):
        probe = spinapp["spec"]["checks"][kind]
        path = probe["httpGet"]["path"]
        assert any(spin_route_matches(route, path) for route in routes), (kind, path, routes)
        response = api.handle(api.Request("GET", path, {}))
        assert response.status == 200, (kind, path, response.body)
        assert probe["timeoutSeconds"] >= 1 and probe["periodSeconds"] >= probe["timeoutSeconds"]
    # The first start on a node may compile the 73 MB component: liveness waits for it.
    assert spinapp["spec"]["checks"]["liveness"]["initialDelaySeconds"] >= 30


def test_resources_fit_the_measured_instance_memory(spinapp):
    resources = spinapp["spec"]["resources"]
    requested, limit = (mebibytes(resources[k]["memory"]) for k in ("requests", "limits"))
    assert 2 * INSTANCE_PEAK_MIB <= requested <= limit
    assert millicores(resources["requests"]["cpu"]) <= millicores(resources["limits"]["cpu"])


def bound_values(spinapp, deployed):
    """{variable: its value} of the SpinApp's bindings, a ConfigMap key resolved against the
    ConfigMaps of deploy/ (None: an optional key that is absent, i.e. spin.toml's default)."""
    config_maps = {c["metadata"]["name"]: c.get("data", {}) for c in deployed.get("ConfigMap", [])}
    values = {}
    for v in spinapp["spec"].get("variables", []):
        assert ("value" in v) != ("valueFrom" in v), v
        if "value" in v:
            values[v["name"]] = v["value"]
            continue
        ref = v["valueFrom"]["configMapKeyRef"]
        assert ref["name"] in config_maps, ref
        assert ref["key"] in config_maps[ref["name"]] or ref.get("optional") is True, ref
        values[v["name"]] = config_maps[ref["name"]].get(ref["key"])
    return values


def test_every_spin_variable_is_bound(spinapp, spin, deployed):
    """Each binding names a variable spin.toml declares, and each one it declares (the component's
    settings) can be set on the cluster; a path lies in a folder spin.toml packages (`files`)."""
    declared = spin.get("variables", {})
    values = bound_values(spinapp, deployed)
    assert all(SPIN_VARIABLE_NAME.fullmatch(name) for name in values)
    assert set(values) == set(declared), set(values) ^ set(declared)
    destinations = [
        grant["destination"]
        for c in spin["component"].values()
        for grant in c.get("files", [])
        if isinstance(grant, dict)
    ]
    for name, value in values.items():
        if value:  # a value the component accepts (settings.py's own parser), else every request is a 503
            settings.parse(name, value)
        if name.endswith("_path") and value:
            assert any(value.startswith(d.rstrip("/") + "/") for d in destinations), (name, value)
    # What spin.toml lets the component read: the same variables (the Spin build's interface).
    component_variables = {name for c in spin["component"].values() for name in c.get("variables", {})}
    assert set(values) <= component_variables


def test_nothing_is_mounted_over_the_packaged_files(spinapp, spin):
    destinations = {
        grant["destination"]
        for c in spin["component"].values()
        for grant in c.get("files", [])
        if isinstance(grant, dict)
    }
    mounts = {m["mountPath"] for m in spinapp["spec"].get("volumeMounts", [])}
    assert not mounts & destinations
