"""The peers, each timing one forward pass per model on the same input: onnxruntime native,
the numpy engine natively (bench/native_numpy.py), onnxruntime-web under Node
(bench/ort_web.mjs) and the engine inside the probe component (bench/engine_timing.py's
source, run by tests/probe)."""

import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np

from bench_common import HERE, OUT, ROOT, SHAPE, log
from tools.probe import ProbeError
from wasm_calls import Grants

MEMORY_FLOOR = 512 * 2**20  # host/runtime.py's default cap, raised for the zoo's big files

NODE_DIR = ROOT / "build" / "bench-node"


def run_ort_native(models, x, warmup, runs):
    import onnxruntime as ort

    results = {}
    for name, (path, _) in models.items():
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        t0 = time.perf_counter()
        session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        load_ms = (time.perf_counter() - t0) * 1000
        feeds = {session.get_inputs()[0].name: x}
        for _ in range(warmup):
            y = session.run(None, feeds)[0]
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            y = session.run(None, feeds)[0]
            times.append((time.perf_counter() - t0) * 1000)
        results[name] = {"load_ms": load_ms, "times_ms": times, "logits": y.ravel().astype(float).tolist()}
    return {"version": ort.__version__, "models": results}


def run_native_numpy(models, input_npy, warmup, runs, profile, profile_passes):
    env = dict(os.environ)
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):  # this subprocess only
        env.pop(var, None)
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    spec = {
        "models": {n: str(p) for n, (p, _) in models.items()},
        "input": str(input_npy),
        "warmup": warmup,
        "runs": runs,
        "profile": list(profile),
        "profile_passes": profile_passes,
    }
    spec_file = OUT / "native-numpy-spec.json"
    spec_file.write_text(json.dumps(spec))
    done = subprocess.run(
        [sys.executable, str(HERE / "native_numpy.py"), str(spec_file)],
        env=env,
        check=True,
        stdout=subprocess.PIPE,
        cwd=ROOT,
    )
    return json.loads(done.stdout)


def ensure_ort_web():
    """node_modules for bench/ort_web.mjs in build/bench-node, (re)installed by `npm ci` from
    the pinned lock file; returns (node, node_modules) or raises RuntimeError."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        raise RuntimeError("node/npm not on PATH")
    lock = (HERE / "package-lock.json").read_bytes()
    stamp = NODE_DIR / ".lock-installed"
    if not stamp.exists() or stamp.read_bytes() != lock:
        log("installing onnxruntime-web (npm ci) into build/bench-node")
        NODE_DIR.mkdir(parents=True, exist_ok=True)
        for f in ("package.json", "package-lock.json"):
            shutil.copyfile(HERE / f, NODE_DIR / f)
        subprocess.run(
            [npm, "ci", "--prefix", str(NODE_DIR), "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
            check=True,
            stdout=sys.stderr,
        )
        stamp.write_bytes(lock)
    return node, NODE_DIR / "node_modules"


def run_ort_web(models, input_f32, warmup, runs):
    node, node_modules = ensure_ort_web()
    spec = {
        "node_modules": str(node_modules),
        "models": {n: str(p) for n, (p, _) in models.items()},
        "input": str(input_f32),
        "shape": list(SHAPE),
        "warmup": warmup,
        "runs": runs,
    }
    spec_file = OUT / "ort-web-spec.json"
    spec_file.write_text(json.dumps(spec))
    done = subprocess.run(
        [node, str(HERE / "ort_web.mjs"), str(spec_file)], check=True, stdout=subprocess.PIPE, cwd=ROOT
    )
    return json.loads(done.stdout)


# data: 4-byte little-endian header length, JSON header, model bytes, input float32 bytes.
# (np.load of an .npz needs zipfile, which the probe does not bundle.)
COMPONENT_SNIPPET = """
n = int.from_bytes(data[:4], "little")
cfg = json.loads(data[4:4 + n])
with open(cfg["path"], "rb") as f:
    model_bytes = f.read()
x = np.frombuffer(data[4 + n:], np.float32).reshape(cfg["x_shape"]).copy()
model, timing = time_model(model_bytes, x, cfg["warmup"], cfg["runs"])
if cfg["profile_passes"]:
    timing["profile"] = profile_plan(model, x, cfg["profile_passes"])
result = json.dumps(timing).encode()
"""


LOAD_SNIPPET = """
cfg = json.loads(data)
result = json.dumps(load_phases(cfg["path"], cfg["repeats"])).encode()
"""


def probe_grants(probe, **kwargs):
    """Grants for a probe instance that runs a whole timing loop in one call: an hour of CPU
    where its runtime caps it."""
    return Grants(cpu_seconds=3600.0 if probe.runtime.cpu_cap else None, **kwargs)


def run_component_load(probe, models, repeats=3):
    """engine.load_model's phases in a fresh probe instance per model, granted its folder."""
    source = (HERE / "engine_timing.py").read_text() + LOAD_SNIPPET
    results = {}
    for name, (path, folder) in models.items():
        cfg = json.dumps({"path": f"/models/{path.name}", "repeats": repeats}).encode()
        results[name] = json.loads(probe.run(source, cfg, probe_grants(probe, dirs={folder: "/models"})))
    return results


def run_component(probe, models, x, warmup, runs, profile, profile_passes):
    """The engine in a fresh probe instance per model; engine_timing.py's source runs inside. A
    model the engine cannot load (the zoo's, on a branch without its ops) gets its error."""
    source = (HERE / "engine_timing.py").read_text() + COMPONENT_SNIPPET
    results = {}
    for name, (path, folder) in models.items():
        # The model's folder is granted: a list<u8> argument is lowered byte by byte by
        # wasmtime-py, which took 20 GB of the host's memory for ViT-B's 346 MB.
        cfg = json.dumps(
            {
                "warmup": warmup,
                "runs": runs,
                "path": f"/models/{path.name}",
                "x_shape": list(x.shape),
                "profile_passes": profile_passes if name in profile else 0,
            }
        ).encode()
        data = len(cfg).to_bytes(4, "little") + cfg + np.ascontiguousarray(x, np.float32).tobytes()
        log(f"component: {name}")
        size = path.stat().st_size
        grants = probe_grants(probe, dirs={folder: "/models"}, memory_limit=max(MEMORY_FLOOR, 4 * size + 256 * 2**20))
        try:
            results[name] = json.loads(probe.run(source, data, grants))
        except ProbeError as e:
            results[name] = {"error": str(e).strip().splitlines()[-1]}
            log(f"component: {name} failed: {results[name]['error']}")
    return {"models": results}


# --- the classifier component's typed interface -------------------------------------------------
