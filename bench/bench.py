"""Benchmark of the classifier component against its peers, all measured in one run.

    .venv/bin/python bench/bench.py [--runs N] [--warmup N] [--models NAME ...]

For each model (MobileNetV2 zoo-style, MobileNetV2 torch export, EfficientNet-Lite0) it times
one 1x3x224x224 forward pass (median, p90, min, max over --runs runs after --warmup runs) of:
  component    the project's numpy engine inside the probe component (tests/probe, wasmtime),
               timed inside with time.perf_counter (bench/engine_timing.py);
  numpy        the same engine on the host's CPython + numpy, OpenBLAS on 1 thread
               (bench/native_numpy.py, in a subprocess with its own OPENBLAS_* environment);
  ort          onnxruntime native, 1 thread, sequential;
  ort-web      onnxruntime-web's wasm backend (SIMD, 1 thread) under Node (bench/ort_web.mjs);
and, through build/classifier.wasm's typed interface (imgcls:classifier/classify), per
model granted as a file at /models + MODEL_PATH ("[file]"), and for the model the component
embeds in its build-time snapshot, if any, without MODEL_PATH ("[embedded]"):
  e2e          classify(a real JPEG, 5) wall time from the host, decode + preprocessing included,
               beside the same call with a same-size non-image (the host's transfer cost);
  load         a fresh instance: instantiate + first call, classify(b"") (loads a [file] model),
               with the phases of a load (read, sha256, parse, fuse, plan) timed in the probe;
  memory       the smallest Store memory limit under which classify still succeeds (bisection;
               wasm memory never shrinks, so that is the instance's peak);
  photo        a 2 MB JPEG: `python -m host predict`'s path against POST /predict on `make
               serve` (bench/harness_photo.py);
plus the component's size and, per model, where the engine's time goes inside the component
(each plan step timed, grouped by kernel, against the same walk natively).

Prints a table, flags the targets that are missed, and writes build/bench/results.json.
onnxruntime-web comes from bench/package.json + package-lock.json, installed with `npm ci`
into build/bench-node (ignored) when the lock file changes.
"""
import argparse
import contextlib
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(ROOT / "component"), str(ROOT / "tests")]

import numpy as np  # noqa: E402

from host.exports import CLASSIFIER, Export, describe  # noqa: E402
from host.runtime import CPU_LIMIT_SECONDS, Grants, Runtime, cause  # noqa: E402
from tools.probe import SITE, Probe, probe_wasm  # noqa: E402

import harness_photo  # noqa: E402

OUT = ROOT / "build" / "bench"
NODE_DIR = ROOT / "build" / "bench-node"
WASM = ROOT / "build" / "classifier.wasm"
DEFAULT_MODEL = ROOT / "build" / "models" / "efficientnet-lite0.onnx"
SHAPE = (1, 3, 224, 224)
MiB = 1024 * 1024

# The targets.
TARGET_RATIO_ORT_WEB = 4.0     # MobileNetV2 inside the component within 4x of ort-web 1 thread
TARGET_LOAD_MS = 100.0         # model load per fresh instance
TARGET_PEAK_MIB = 256          # one instance's memory
# 1-minute load average above which another job shares the 2 cores (ours uses one).
BUSY_LOADAVG = 1.5
MOBILENETS = ("mobilenetv2-zoo", "mobilenetv2-torch")

MODELS = {
    "mobilenetv2-zoo": "MobileNetV2, zoo-style graph (opset 10, explicit BN), seeded random weights (seed 1)",
    "mobilenetv2-torch": "MobileNetV2, torch.onnx.export of a torchvision-style net (opset 13), seeded random (seed 0)",
    "efficientnet-lite0": "EfficientNet-Lite0, ImageNet weights (the default model, build/models)",
}
PEERS = {
    "component": "component (host/runtime.py config)",
    "component-plain": "  same, plain wasmtime config",
    "numpy": "numpy engine native, OpenBLAS 1t",
    "ort": "onnxruntime native, 1 thread",
    "ort-web": "onnxruntime-web wasm SIMD 1t (Node)",
}
RATIOS = {"ort-web": "ort-web", "ort": "ort-native", "numpy": "native-numpy"}
STAGES = ("component", "plain", "numpy", "ort", "ort-web", "e2e", "load", "memory", "photo", "profile")


def log(message):
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def stats(times):
    t = np.asarray(times, dtype=np.float64)
    return {"n": int(t.size), "median": float(np.median(t)), "p90": float(np.percentile(t, 90)),
            "min": float(t.min()), "max": float(t.max()), "mean": float(t.mean())}


def digest(*paths):
    h = hashlib.sha256()
    for p in paths:
        h.update(Path(p).read_bytes())
    return h.hexdigest()[:16]


# --- models -----------------------------------------------------------------------------------

def prepare_models(names):
    """name -> (onnx path, folder to grant as /models): generated ones are cached in
    build/bench/models, keyed on their generators' sources."""
    folder = OUT / "models"
    folder.mkdir(parents=True, exist_ok=True)
    py = sys.executable
    recipes = {
        "mobilenetv2-zoo": ([ROOT / "models" / "mobilenetv2.py", ROOT / "models" / "onnx_graph.py"],
                            lambda out: [py, str(ROOT / "models" / "mobilenetv2.py"), str(out), "--seed", "1"]),
        "mobilenetv2-torch": ([ROOT / "tests" / "torch_mobilenetv2.py", ROOT / "models" / "mobilenetv2.py"],
                              lambda out: [py, str(ROOT / "tests" / "torch_mobilenetv2.py"), str(out)]),
    }
    paths = {}
    for name in names:
        if name == "efficientnet-lite0":
            if not DEFAULT_MODEL.exists():
                sys.exit(f"missing {DEFAULT_MODEL.relative_to(ROOT)}: run `make model`")
            paths[name] = (DEFAULT_MODEL, DEFAULT_MODEL.parent)
            continue
        sources, command = recipes[name]
        out = folder / f"{name}.onnx"
        key_file = folder / f".{name}.key"
        key = digest(*sources)
        if not out.exists() or not key_file.exists() or key_file.read_text() != key:
            log(f"generating {out.relative_to(ROOT)}")
            subprocess.run(command(out), check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
            key_file.write_text(key)
        if name == "mobilenetv2-torch":  # the torch CLI writes no sidecar; same convention as zoo
            from models.mobilenetv2 import TORCHVISION_SIDECAR
            out.with_suffix(".json").write_text(json.dumps({"name": name, **TORCHVISION_SIDECAR}))
        paths[name] = (out, folder)
    labels = ROOT / "models" / "imagenet_classes.txt"
    if not (folder / labels.name).exists():
        shutil.copyfile(labels, folder / labels.name)
    return paths


# --- peers --------------------------------------------------------------------------------------

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
    spec = {"models": {n: str(p) for n, (p, _) in models.items()}, "input": str(input_npy),
            "warmup": warmup, "runs": runs, "profile": list(profile), "profile_passes": profile_passes}
    spec_file = OUT / "native-numpy-spec.json"
    spec_file.write_text(json.dumps(spec))
    done = subprocess.run([sys.executable, str(HERE / "native_numpy.py"), str(spec_file)],
                          env=env, check=True, stdout=subprocess.PIPE, cwd=ROOT)
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
        subprocess.run([npm, "ci", "--prefix", str(NODE_DIR), "--ignore-scripts", "--no-audit", "--no-fund",
                        "--loglevel=error"], check=True, stdout=sys.stderr)
        stamp.write_bytes(lock)
    return node, NODE_DIR / "node_modules"


def run_ort_web(models, input_f32, warmup, runs):
    node, node_modules = ensure_ort_web()
    spec = {"node_modules": str(node_modules), "models": {n: str(p) for n, (p, _) in models.items()},
            "input": str(input_f32), "shape": list(SHAPE), "warmup": warmup, "runs": runs}
    spec_file = OUT / "ort-web-spec.json"
    spec_file.write_text(json.dumps(spec))
    done = subprocess.run([node, str(HERE / "ort_web.mjs"), str(spec_file)], check=True,
                          stdout=subprocess.PIPE, cwd=ROOT)
    return json.loads(done.stdout)


# data: 4-byte little-endian header length, JSON header, model bytes, input float32 bytes.
# (np.load of an .npz needs zipfile, which the probe does not bundle.)
COMPONENT_SNIPPET = """
n = int.from_bytes(data[:4], "little")
cfg = json.loads(data[4:4 + n])
model_bytes = data[4 + n:4 + n + cfg["model_len"]]
x = np.frombuffer(data[4 + n + cfg["model_len"]:], np.float32).reshape(cfg["x_shape"]).copy()
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
    """The engine in a fresh probe instance per model; engine_timing.py's source runs inside."""
    source = (HERE / "engine_timing.py").read_text() + COMPONENT_SNIPPET
    results = {}
    for name, (path, _) in models.items():
        model_bytes = path.read_bytes()
        cfg = json.dumps({"warmup": warmup, "runs": runs, "model_len": len(model_bytes), "x_shape": list(x.shape),
                          "profile_passes": profile_passes if name in profile else 0}).encode()
        data = len(cfg).to_bytes(4, "little") + cfg + model_bytes + np.ascontiguousarray(x, np.float32).tobytes()
        log(f"component: {name}")
        results[name] = json.loads(probe.run(source, data, probe_grants(probe)))
    return {"models": results}


# --- the classifier component's typed interface -------------------------------------------------

class Case:
    """One way an instance of build/classifier.wasm gets its model: a file granted at /models
    and named by MODEL_PATH, or the model embedded in the component's build-time snapshot."""

    def __init__(self, model, path, folder, embedded=False):
        self.model, self.path, self.folder, self.embedded = model, path, folder, embedded
        self.key = f"{model} [embedded]" if embedded else f"{model} [file]"

    def grants(self, memory_limit=None):
        grants = Grants() if self.embedded else Grants(
            dirs={self.folder: "/models"}, env={"MODEL_PATH": f"/models/{self.path.name}"})
        if memory_limit is not None:
            grants.memory_limit = memory_limit
        return grants


def interface_cases(runtime, models):
    """A file case per model, plus an embedded case for the model the component embeds (found
    by model-info without MODEL_PATH, matched on sha256), listed first."""
    cases = [Case(name, path, folder) for name, (path, folder) in models.items()]
    store, instance = runtime.instantiate(Grants())
    try:
        ok, info = call(runtime, store, instance, "model-info")
    except Exception as e:
        log(f"model-info without MODEL_PATH trapped ({short_error(e)}): no embedded model")
        return cases
    if ok:
        for name, (path, folder) in models.items():
            if hashlib.sha256(path.read_bytes()).hexdigest() == info.sha256:
                cases.insert(0, Case(name, path, folder, embedded=True))
    return cases


def short_error(e):
    return f"{type(e).__name__}: {cause(e)}"


_exports = {}


def call(runtime, store, instance, func, *args):
    """(ok, payload) of the interface's function `func` (host.exports), under the default CPU cap."""
    if (runtime, func) not in _exports:
        _exports[runtime, func] = Export(runtime, func, CLASSIFIER)
    return _exports[runtime, func].call(store, instance, *args, cpu_seconds=CPU_LIMIT_SECONDS)


@contextlib.contextmanager
def quiet_stderr():
    """The instances inherit stderr; silence the tracebacks of calls expected to fail."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "wb") as null:
        os.dup2(null.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


@contextlib.contextmanager
def quiet_stdout():
    """Sends what subprocesses print to stdout to stderr instead: stdout carries the table."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def timed(runtime, store, instance, func, *args):
    t0 = time.perf_counter()
    result = call(runtime, store, instance, func, *args)
    return result, (time.perf_counter() - t0) * 1000


def run_e2e(runtime, cases, jpeg, warmup, runs):
    import classifier
    import preprocess
    results = {}
    for case in cases:
        store, instance = runtime.instantiate(case.grants())
        try:
            (ok, payload), first_ms = timed(runtime, store, instance, "classify", jpeg, 5)
        except Exception as e:  # a trap: the app raised where it should not
            results[case.key] = {"model": case.model, "error": f"classify trapped: {short_error(e)}"}
            continue
        if not ok:
            results[case.key] = {"model": case.model, "error": f"classify: {describe(payload)[:200]}"}
            continue
        for _ in range(max(warmup - 1, 0)):
            call(runtime, store, instance, "classify", jpeg, 5)
        times = []
        for _ in range(runs):
            (_, predictions), ms = timed(runtime, store, instance, "classify", jpeg, 5)
            times.append(ms)
        top = predictions[0]
        # The same call with a same-size non-image: transfer of the bytes + a fast rejection.
        junk = bytes(len(jpeg))
        overhead = [timed(runtime, store, instance, "classify", junk, 5)[1] for _ in range(runs)]
        # The app's preprocessing natively (same Pillow version), for scale.
        try:
            prep = preprocess.Preprocessing.from_settings(classifier.read_settings(case.path, {}))
        except (AttributeError, TypeError, ValueError):  # the app changed: its defaults then
            prep = preprocess.Preprocessing()
        native = []
        for _ in range(runs):
            t0 = time.perf_counter()
            preprocess.preprocess(jpeg, prep)
            native.append((time.perf_counter() - t0) * 1000)
        results[case.key] = {"model": case.model, "embedded": case.embedded, "jpeg_bytes": len(jpeg),
                             "first_call_ms": first_ms, "times_ms": times, "call_overhead_ms": overhead,
                             "native_preprocess_ms": native,
                             "top1": {"index": top.index, "label": top.label, "score": top.score}}
    return results


def run_load(runtime, cases, instances):
    """Fresh instances: instantiate, then the first call, classify(b"", 1): it loads the model
    (unless it is embedded in the snapshot), then refuses the empty image at once. model-info
    would hash the model file on top, which requests do not do."""
    results = {}
    for case in cases:
        inst_ms, info_ms, total_ms = [], [], []
        for i in range(instances + 1):  # the first one is a warm-up
            t0 = time.perf_counter()
            store, instance = runtime.instantiate(case.grants())
            t1 = time.perf_counter()
            try:
                ok, answer = call(runtime, store, instance, "classify", b"", 1)
            except Exception as e:
                results[case.key] = {"model": case.model, "error": f"classify trapped: {short_error(e)}"}
                break
            t2 = time.perf_counter()
            if ok or answer.tag != "not-an-image":
                results[case.key] = {"model": case.model, "error": f"classify(b''): {describe(answer)[:200]}"}
                break
            if i:
                inst_ms.append((t1 - t0) * 1000)
                info_ms.append((t2 - t1) * 1000)
                total_ms.append((t2 - t0) * 1000)
            if i < instances:
                del store, instance
        if case.key in results:
            continue
        _, info = call(runtime, store, instance, "model-info")
        results[case.key] = {"model": case.model, "embedded": case.embedded, "instantiate_ms": inst_ms,
                             "model_info_ms": info_ms, "total_ms": total_ms,
                             "info": {"name": info.name, "parameters": info.parameters}}
    return results


def classify_fits(runtime, case, jpeg, limit):
    """Does a fresh instance capped at `limit` bytes of linear memory classify the photo?"""
    try:
        with quiet_stderr():
            store, instance = runtime.instantiate(case.grants(limit))
            ok, payload = call(runtime, store, instance, "classify", jpeg, 5)
        return ok, None if ok else describe(payload)[:200]
    except Exception as e:  # a trap or a failed instantiation: the limit is too small
        return False, short_error(e)[:200]


def smallest_fitting_mib(fits, hi_mib, resolution_mib=1):
    """Bisection for the smallest limit (MiB) with fits(limit_bytes) -> (ok, why) true, given
    that hi_mib fits. Returns (smallest, largest failing, why it failed there)."""
    lo, lo_why = 0, None
    while hi_mib - lo > resolution_mib:
        mid = (lo + hi_mib) // 2
        ok, why = fits(mid * MiB)
        if ok:
            hi_mib = mid
        else:
            lo, lo_why = mid, why
    return hi_mib, lo, lo_why


def instantiate_fits(runtime, limit):
    try:
        with quiet_stderr():
            runtime.instantiate(Grants(memory_limit=limit))
        return True, None
    except Exception as e:
        return False, short_error(e)[:200]


def run_memory(runtime, cases, jpeg):
    """Bisection on Grants.memory_limit: wasm memory never shrinks, so the smallest limit that
    lets classify succeed is the instance's peak (of its largest linear memory). The smallest
    limit that lets it instantiate is its initial memory (the build-time snapshot)."""
    top = Grants().memory_limit // MiB
    initial, _, _ = smallest_fitting_mib(lambda limit: instantiate_fits(runtime, limit), top)
    results = {}
    for case in cases:
        ok, why = classify_fits(runtime, case, jpeg, top * MiB)
        if not ok:
            results[case.key] = {"model": case.model, "error": f"fails even at {top} MiB: {why}"}
            continue
        peak, fails_at, why = smallest_fitting_mib(lambda limit: classify_fits(runtime, case, jpeg, limit), top)
        results[case.key] = {"model": case.model, "embedded": case.embedded, "peak_mib": peak,
                             "fails_at_mib": fails_at, "failure_below": why}
    return {"initial_mib": initial, "models": results}


# --- report -------------------------------------------------------------------------------------

def max_diff(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))


def kernel_table(profile_wasm, profile_plain, profile_native):
    """Per-kernel totals of the per-step medians: inside (host config, plain config) and native."""
    rows = {}
    others = {"plain": profile_plain["steps"] if profile_plain else [],
              "native": profile_native["steps"] if profile_native else []}
    for i, step in enumerate(profile_wasm["steps"]):
        row = rows.setdefault(step["kernel"], {"steps": 0, "ms": 0.0, "plain_ms": 0.0, "native_ms": 0.0, "flops": 0,
                                               "matmul_ms": 0.0, "plain_matmul_ms": 0.0})
        row["steps"] += 1
        row["ms"] += step["ms"]
        row["flops"] += step.get("flops") or 0
        row["matmul_ms"] += step.get("matmul_ms", 0.0)
        for other, steps in others.items():
            if i < len(steps) and steps[i]["kernel"] == step["kernel"]:
                row[f"{other}_ms"] += steps[i]["ms"]
                if other == "plain":
                    row["plain_matmul_ms"] += steps[i].get("matmul_ms", 0.0)
    return dict(sorted(rows.items(), key=lambda kv: -kv[1]["ms"]))


def fmt_ms(v):
    return "-" if v is None else f"{v:.1f}" if v < 1000 else f"{v:.0f}"


def cases_of(section, name):
    """(case key, entry) of one model in a per-case section (e2e, load, memory)."""
    return [(key, entry) for key, entry in section.items() if entry.get("model") == name]


def report(res, args):
    lines = []
    p = lines.append
    env = res["environment"]
    p(f"Benchmark {env['date']}  {env['cpu']}  ({env['cores']} cores)  commit {env['commit']}  "
      f"load average {env['loadavg_start']:.2f} at start, {res['loadavg_end']:.2f} at end")
    if max(env["loadavg_start"], res["loadavg_end"]) > BUSY_LOADAVG:
        p(f"WARNING: the machine was busy (load average > {BUSY_LOADAVG}): timings are inflated; rerun on a quiet machine")
    p(f"component: {env['classifier_wasm']}  probe: {env.get('probe', '-')}")
    p(f"numpy (host) {env['numpy']}  onnxruntime {env.get('onnxruntime', '-')}  onnxruntime-web "
      f"{env.get('onnxruntime_web', '-')} on Node {env.get('node', '-')} (ort.env.wasm {env.get('ort_web_wasm_env', '-')})"
      f"  wasmtime-py {env['wasmtime']}")
    blas = env.get("native_blas")
    if blas:
        p(f"native numpy BLAS: {blas.get('library')} kernel={blas.get('corename')} threads={blas.get('num_threads')} "
          f"via {blas.get('via')}; env {blas.get('env')}")
    p("")
    p(f"Inference, one {'x'.join(map(str, SHAPE))} float32 forward pass: ms over {args.runs} runs after "
      f"{args.warmup} warm-up runs; max|dlogit| against onnxruntime native")
    head = f"  {'model / peer':<44}{'median':>9}{'p90':>9}{'min':>9}{'max':>9}   max|dlogit|"
    for name in res["models"]:
        p("")
        p(f"{name}: {MODELS[name]}")
        p(head)
        per = res["inference"]
        medians = {}
        ref = per.get("ort", {}).get("models", {}).get(name, {}).get("logits")
        for peer, label in PEERS.items():
            r = per.get(peer, {}).get("models", {}).get(name)
            if r is None:
                why = per.get(peer, {}).get("error", "skipped")
                p(f"  {label:<44}{'(' + why + ')':>36}")
                continue
            s = stats(r["times_ms"])
            medians[peer] = s["median"]
            diff = f"{max_diff(r['logits'], ref):.1e}" if ref is not None and peer != "ort" else ""
            p(f"  {label:<44}{fmt_ms(s['median']):>9}{fmt_ms(s['p90']):>9}{fmt_ms(s['min']):>9}"
              f"{fmt_ms(s['max']):>9}   {diff}")
        if "component" in medians:
            ratios = [f"component/{short} = {medians['component'] / medians[peer]:.1f}x"
                      for peer, short in RATIOS.items() if peer in medians]
            p("  ratios: " + ", ".join(ratios))
        if "component-plain" in medians:
            ratios = [f"{medians['component-plain'] / medians[peer]:.1f}x {short}"
                      for peer, short in RATIOS.items() if peer in medians]
            p("  plain wasmtime config: " + ", ".join(ratios)
              + (f"; host.runtime config costs {medians['component'] / medians['component-plain']:.2f}x"
                 if "component" in medians else ""))
        for key, e2e in cases_of(res.get("e2e", {}), name):
            label = f"classify e2e {key[len(name) + 1:]}, typed interface"
            if "error" in e2e:
                p(f"  {label:<44}  FAILED: {e2e['error']}")
                continue
            s = stats(e2e["times_ms"])
            transfer = stats(e2e["call_overhead_ms"])["median"]
            extra = f" = host call+transfer {fmt_ms(transfer)}"
            if "component" in medians:
                extra += (f" + inference {fmt_ms(medians['component'])}"
                          f" + decode/preprocess/rest {fmt_ms(s['median'] - medians['component'] - transfer)}")
            p(f"  {label:<44}{fmt_ms(s['median']):>9}{fmt_ms(s['p90']):>9}{fmt_ms(s['min']):>9}{fmt_ms(s['max']):>9}{extra}")
            p(f"    first call {fmt_ms(e2e['first_call_ms'])} ms (loads the model unless embedded); top-1 "
              f"{e2e['top1']['index']} {e2e['top1']['label']!r} ({e2e['top1']['score']:.3f})")
        if cases_of(res.get("e2e", {}), name):
            e2e = cases_of(res["e2e"], name)[0][1]
            if "native_preprocess_ms" in e2e:
                p(f"    e2e = classify(scikit-image chelsea as JPEG q90, {e2e['jpeg_bytes'] // 1000} KB, 5) timed by the host; "
                  f"host call+transfer = the same call with a same-size non-image")
                p(f"    (wasmtime-py lowers list<u8> byte by byte); the app's preprocessing natively: "
                  f"{fmt_ms(stats(e2e['native_preprocess_ms'])['median'])} ms")

    if res.get("load"):
        report_load(p, res, args)
    if res.get("memory"):
        report_memory(p, res)
    if res.get("photo"):
        p("")
        harness_photo.report(p, res["photo"])
    size = res.get("component_size")
    if size:
        p("")
        p(f"Component size: build/classifier.wasm {size['mb']:.1f} MB ({size['mib']:.1f} MiB)")

    p("")
    p("Targets (from the issue):")
    for t in res["targets"]:
        p(f"  [{'ok  ' if t['met'] else 'MISS' if t['met'] is False else '?   '}] {t['text']}")

    for name, prof in res.get("profile", {}).items():
        report_profile(p, name, prof, args)
    return "\n".join(lines)


def report_load(p, res, args):
    p("")
    p(f"Model load per fresh instance of build/classifier.wasm (median of {args.load_instances} instances; "
      "ms; instance = instantiate, load = first call: classify of an empty body)")
    p(f"  {'model [how]':<30}{'instance':>10}{'load':>9}{'total':>9}{'total p90':>11}   "
      "engine.load_model in probe / ort / ort-web")
    for name in res["models"]:
        inside = res["inference"].get("component", {}).get("models", {}).get(name, {}).get("load_ms")
        ort_l = res["inference"].get("ort", {}).get("models", {}).get(name, {}).get("load_ms")
        web_l = res["inference"].get("ort-web", {}).get("models", {}).get(name, {}).get("load_ms")
        for key, r in cases_of(res["load"], name):
            if "error" in r:
                p(f"  {key:<30}FAILED: {r['error']}")
                continue
            t = stats(r["total_ms"])
            p(f"  {key:<30}{fmt_ms(stats(r['instantiate_ms'])['median']):>10}{fmt_ms(stats(r['model_info_ms'])['median']):>9}"
              f"{fmt_ms(t['median']):>9}{fmt_ms(t['p90']):>11}   {fmt_ms(inside)} / {fmt_ms(ort_l)} / {fmt_ms(web_l)}")
    p(f"  (wasmtime Runtime() for the component, compile or cache load, once per host process: "
      f"{fmt_ms(res.get('runtime_load_ms'))} ms)")
    phases = res.get("load_phases")
    if phases:
        p("  a model load's phases in a fresh probe instance (ms, first load on cold memory / warm median);")
        p("  'rest' = the [file] model-info load above minus their first-load total (sidecar, labels, info, call)")
        p(f"  {'model':<20}{'read file':>12}{'sha256':>14}{'parse':>14}{'fuse':>12}{'plan':>14}{'total':>14}{'rest':>7}")
        for name in res["models"]:
            ph = phases.get(name)
            if not ph:
                continue
            first, warm = ph["first"], ph["warm"]
            cells = "".join(f"{fmt_ms(first[k]) + ' / ' + fmt_ms(warm.get(k)):>{w}}"
                            for k, w in (("read_file", 12), ("sha256", 14), ("parse", 14), ("fuse", 12), ("plan", 14),
                                         ("total", 14)))
            load = res["load"].get(f"{name} [file]", {})
            rest = stats(load["model_info_ms"])["median"] - first["total"] if "model_info_ms" in load else None
            p(f"  {name:<20}{cells}{fmt_ms(rest):>7}")


def report_memory(p, res):
    p("")
    p("Peak memory of an instance: smallest Store memory limit under which classify(chelsea.jpg) succeeds")
    p(f"  (instantiation alone needs {res['memory']['initial_mib']} MiB: the initial memory of the build-time snapshot)")
    for name in res["models"]:
        for key, r in cases_of(res["memory"]["models"], name):
            if "peak_mib" in r:
                p(f"  {key:<30}{r['peak_mib']:>5} MiB  (fails at {r['fails_at_mib']} MiB: {r['failure_below']})")
            else:
                p(f"  {key:<30}{r['error']}")


def report_profile(p, name, prof, args):
    wasm, plain, native = prof["component"], prof.get("component-plain"), prof.get("numpy")
    rows = kernel_table(wasm, plain, native)
    total = sum(s["ms"] for s in wasm["steps"])
    plain_total = sum(s["ms"] for s in plain["steps"]) if plain else None
    run_med = float(np.median(wasm["run_ms"]))
    p("")
    p(f"Profile inside the component, {name}: each plan step's median over {wasm['passes']} passes, summed per kernel;")
    p(f"  host/runtime.py config: steps {fmt_ms(total)} ms of a {fmt_ms(run_med)} ms walk (Python loop "
      f"{fmt_ms(run_med - total)} ms); plain wasmtime config: steps {fmt_ms(plain_total)} ms; GFLOP/s at the host config")
    p(f"  {'kernel':<16}{'steps':>6}{'ms':>8}{'share':>7}{'plain ms':>10}{'native ms':>11}{'ms/native':>11}"
      f"{'plain/native':>14}{'GFLOP/s':>9}   matmul part of the 1x1 convs (host / plain)")
    for kernel, r in rows.items():
        gflops = f"{r['flops'] / r['ms'] / 1e6:.2f}" if r["flops"] and r["ms"] else ""
        ratio = f"{r['ms'] / r['native_ms']:.1f}x" if r["native_ms"] else ""
        plain_ratio = f"{r['plain_ms'] / r['native_ms']:.1f}x" if r["native_ms"] and r["plain_ms"] else ""
        note = f"{fmt_ms(r['matmul_ms'])} / {fmt_ms(r['plain_matmul_ms'] or None)} ms" if r["matmul_ms"] else ""
        p(f"  {kernel:<16}{r['steps']:>6}{fmt_ms(r['ms']):>8}{100 * r['ms'] / total:>6.0f}%"
          f"{fmt_ms(r['plain_ms'] or None):>10}{fmt_ms(r['native_ms'] or None):>11}{ratio:>11}{plain_ratio:>14}{gflops:>9}   {note}")
    p("  most expensive steps (host config; plain config; native), ms:")
    plain_steps = plain["steps"] if plain else []
    native_steps = native["steps"] if native else []
    for s in sorted(wasm["steps"], key=lambda s: -s["ms"])[:args.top_steps]:
        i = s["index"]
        pl = plain_steps[i]["ms"] if i < len(plain_steps) else None
        n = native_steps[i]["ms"] if i < len(native_steps) else None
        split = f"   (matmul {fmt_ms(s['matmul_ms'])})" if "matmul_ms" in s else ""
        p(f"    #{i:<4}{s['label']:<50}{fmt_ms(s['ms']):>7}{fmt_ms(pl):>7}{fmt_ms(n):>7}{split}")


def evaluate_targets(res):
    targets = []
    inf = res["inference"]
    for name in res["models"]:
        comp = inf.get("component", {}).get("models", {}).get(name)
        web = inf.get("ort-web", {}).get("models", {}).get(name)
        if name in MOBILENETS:
            if comp and web:
                c, w = stats(comp["times_ms"])["median"], stats(web["times_ms"])["median"]
                ratio = c / w
                met = ratio <= TARGET_RATIO_ORT_WEB
                text = (f"{name}: component/ort-web = {ratio:.1f}x (target <= {TARGET_RATIO_ORT_WEB:.0f}x)")
                if not met:
                    text += (f": missed by {ratio / TARGET_RATIO_ORT_WEB:.2f}x -- {c:.0f} ms must drop to "
                             f"<= {TARGET_RATIO_ORT_WEB * w:.0f} ms ({c - TARGET_RATIO_ORT_WEB * w:.0f} ms over)")
                plain = inf.get("component-plain", {}).get("models", {}).get(name)
                if plain:
                    text += f"; {stats(plain['times_ms'])['median'] / w:.1f}x under a plain wasmtime config"
                targets.append({"target": "ratio-ort-web", "model": name, "met": met, "value": ratio, "text": text})
            else:
                targets.append({"target": "ratio-ort-web", "model": name, "met": None, "value": None,
                                "text": f"{name}: component/ort-web not measured"})
        for key, load in cases_of(res.get("load", {}), name):
            if "error" in load:
                targets.append({"target": "load", "model": key, "met": None, "value": None,
                                "text": f"{key}: model load not measured ({load['error']})"})
                continue
            ms = stats(load["total_ms"])["median"]
            met = ms < TARGET_LOAD_MS
            text = f"{key}: model load per fresh instance {ms:.0f} ms (target < {TARGET_LOAD_MS:.0f} ms)"
            if not met:
                text += f": missed by {ms - TARGET_LOAD_MS:.0f} ms ({ms / TARGET_LOAD_MS:.1f}x)"
            targets.append({"target": "load", "model": key, "met": met, "value": ms, "text": text})
        for key, mem in cases_of(res.get("memory", {}).get("models", {}), name):
            if "error" in mem:
                targets.append({"target": "memory", "model": key, "met": None, "value": None,
                                "text": f"{key}: peak memory not measured ({mem['error']})"})
                continue
            met = mem["peak_mib"] < TARGET_PEAK_MIB
            text = f"{key}: instance peak memory {mem['peak_mib']} MiB (target < {TARGET_PEAK_MIB} MiB)"
            if not met:
                text += f": missed by {mem['peak_mib'] - TARGET_PEAK_MIB} MiB"
            targets.append({"target": "memory", "model": key, "met": met, "value": mem["peak_mib"], "text": text})
    if res.get("photo"):
        targets.append(harness_photo.target(res["photo"]))
    return targets


def environment():
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    from importlib.metadata import version
    stamps = {p.name: time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(p.stat().st_mtime))
              for p in sorted((ROOT / "build" / "wasi").glob(".*")) if p.is_file()}
    wasm_time = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(WASM.stat().st_mtime)) if WASM.exists() else None
    return {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "cpu": cpu, "cores": os.cpu_count(),
            "commit": commit + ("+dirty" if dirty else ""), "python": platform.python_version(),
            "loadavg_start": os.getloadavg()[0],
            "numpy": np.__version__, "wasmtime": version("wasmtime"),
            "classifier_wasm": f"{WASM.relative_to(ROOT)} built {wasm_time}" if wasm_time else "missing",
            "wasi_stamps": stamps,
            "openblas_env": {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS_")}}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="timed runs per peer and model (>= 10)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs first")
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--load-instances", type=int, default=10, help="fresh instances for the load time")
    parser.add_argument("--profile-passes", type=int, default=5)
    parser.add_argument("--profile-models", nargs="*", choices=list(MODELS), default=None,
                        help="models to profile per step (default: all measured)")
    parser.add_argument("--top-steps", type=int, default=8)
    parser.add_argument("--skip", nargs="*", choices=STAGES, default=[], help="stages to leave out")
    parser.add_argument("--out", type=Path, default=OUT / "results.json")
    args = parser.parse_args()
    if args.runs < 10 or args.load_instances < 10:
        log("warning: fewer than 10 runs/instances: medians below the benchmark's protocol")
    skip = set(args.skip)
    needed = ([WASM] if {"e2e", "load", "memory"} - skip else []) + (
        [SITE / "numpy", SITE / "PIL"] if "component" not in skip else [])
    missing = [str(p.relative_to(ROOT)) for p in needed if not p.exists()]
    if missing:
        sys.exit(f"missing {', '.join(missing)}: run `make component` (it builds wasi-deps too) first")
    if WASM.exists():
        inputs = [p for p in (ROOT / "build" / "wasi").glob(".*") if p.is_file()]
        inputs += list((ROOT / "component").rglob("*.py")) + [ROOT / "wit" / "classifier.wit"]
        newer = [p for p in inputs if p.stat().st_mtime > WASM.stat().st_mtime]
        if newer:
            log(f"warning: build/classifier.wasm is older than {', '.join(str(p.relative_to(ROOT)) for p in newer[:3])}"
                f"{' ...' if len(newer) > 3 else ''}: `make component` rebuilds it")
    if os.getloadavg()[0] > BUSY_LOADAVG:
        log(f"warning: load average {os.getloadavg()[0]:.2f}: another job is running, timings will be inflated")
    OUT.mkdir(parents=True, exist_ok=True)
    profile = set(args.models if args.profile_models is None else args.profile_models) & set(args.models)
    if "profile" in skip:
        profile = set()

    import preprocess
    from photos import CHELSEA_JPEG

    models = prepare_models(args.models)
    # A real photo, preprocessed as the app does by default: the same input for every peer.
    x = np.ascontiguousarray(preprocess.preprocess(CHELSEA_JPEG, preprocess.Preprocessing()), np.float32)
    assert x.shape == SHAPE, x.shape
    np.save(OUT / "input.npy", x)
    x.tofile(OUT / "input.f32")

    res = {"models": list(args.models), "settings": vars(args) | {"out": str(args.out)},
           "environment": environment(), "inference": {}}
    inf = res["inference"]

    # One heavy thing at a time: each peer runs alone.
    if "ort" not in skip:
        log("onnxruntime native")
        inf["ort"] = run_ort_native(models, x, args.warmup, args.runs)
        res["environment"]["onnxruntime"] = inf["ort"]["version"]
    if "numpy" not in skip:
        log("numpy engine native")
        inf["numpy"] = run_native_numpy(models, OUT / "input.npy", args.warmup, args.runs, profile, args.profile_passes)
        res["environment"]["native_blas"] = inf["numpy"]["blas"]
    if "ort-web" not in skip:
        log("onnxruntime-web (Node)")
        try:
            inf["ort-web"] = run_ort_web(models, OUT / "input.f32", args.warmup, args.runs)
            res["environment"]["onnxruntime_web"] = inf["ort-web"]["version"]
            res["environment"]["node"] = inf["ort-web"]["node"]
            res["environment"]["ort_web_wasm_env"] = inf["ort-web"]["wasm"]
        except (RuntimeError, subprocess.CalledProcessError) as e:
            log(f"onnxruntime-web failed: {e}")
            inf["ort-web"] = {"error": "failed, see stderr" if isinstance(e, subprocess.CalledProcessError) else str(e)}
    if "component" not in skip:
        log("probe component (builds it if its sources changed)")
        with quiet_stdout():  # componentize-py's chatter would land in the table
            wasm = probe_wasm()
        res["environment"]["probe"] = wasm.name
        probe = Probe(Runtime(wasm))
        inf["component"] = run_component(probe, models, x, args.warmup, args.runs, profile, args.profile_passes)
        if "load" not in skip:
            res["load_phases"] = run_component_load(probe, models)
        if "plain" not in skip:
            log("probe component under a plain wasmtime config")
            inf["component-plain"] = run_component(Probe(Runtime(wasm, cpu_cap=False)), models, x, args.warmup, args.runs,
                                                   profile, args.profile_passes)
        del probe

    if {"e2e", "load", "memory"} - skip:
        t0 = time.perf_counter()
        runtime = Runtime(WASM)
        res["runtime_load_ms"] = (time.perf_counter() - t0) * 1000
        cases = interface_cases(runtime, models)
        res["interface_cases"] = {c.key: {"model": c.model, "embedded": c.embedded} for c in cases}
    if "e2e" not in skip:
        log("classify end to end")
        res["e2e"] = run_e2e(runtime, cases, CHELSEA_JPEG, args.warmup, args.runs)
    if "load" not in skip:
        log("load time per fresh instance")
        res["load"] = run_load(runtime, cases, args.load_instances)
    if "memory" not in skip:
        log("peak memory (bisection)")
        res["memory"] = run_memory(runtime, cases, CHELSEA_JPEG)
    if "photo" not in skip:
        res["photo"] = harness_photo.run(OUT, args.runs, log)
    if WASM.exists():
        res["component_size"] = {"bytes": WASM.stat().st_size, "mb": WASM.stat().st_size / 1e6,
                                 "mib": WASM.stat().st_size / MiB}
    res["profile"] = {}
    for name in args.models:
        wasm_prof = inf.get("component", {}).get("models", {}).get(name, {}).pop("profile", None)
        plain_prof = inf.get("component-plain", {}).get("models", {}).get(name, {}).pop("profile", None)
        native_prof = inf.get("numpy", {}).get("models", {}).get(name, {}).pop("profile", None)
        if wasm_prof:
            res["profile"][name] = {"component": wasm_prof, "component-plain": plain_prof, "numpy": native_prof}
    res["targets"] = evaluate_targets(res)
    res["loadavg_end"] = os.getloadavg()[0]
    # Summary numbers next to the raw ones, for readers of the JSON.
    res["summary"] = {
        name: {peer: stats(inf[peer]["models"][name]["times_ms"]) for peer in PEERS
               if name in inf.get(peer, {}).get("models", {})}
        for name in args.models}

    text = report(res, args)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=1))
    (args.out.parent / "results.txt").write_text(text + "\n")
    log(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")


if __name__ == "__main__":
    main()
