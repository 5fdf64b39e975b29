"""Benchmark of the classifier component against its peers, all measured in one run.

    .venv/bin/python bench/bench.py [--runs N] [--warmup N] [--models NAME ...]

For each model (MobileNetV2 zoo-style, MobileNetV2 torch export, EfficientNet-Lite0; with --zoo
also the model zoo's representatives, resnet50 ... swin_t, by the four peers below only) it times
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
  http         POST /predict on `make serve`: a 640x480 JPEG (against ort-web's bare inference)
               and a 2 MB one (against `python -m host predict`'s path), forms of N images
               (bench/http_timings.py);
plus, per model, where the engine's time goes inside the component (each plan step timed,
grouped by kernel, against the same walk natively), and the footprint and cold start of
build/classifier.wasm (size, code vs snapshot, cold compile, instantiate, peak memory), beside
those of build/classifier-int8.wasm if built (`make component QUANT=int8`) and of another build
given with --baseline. The int8 models (issue 16): the int8 default beside the float32 one, and
an int8 MobileNetV2 (mobilenetv2-torch through models/quantize_int8.py) against ort-web.

Prints a table, flags the targets that are missed, and writes build/bench/results.json.
The jobs live in modules of their own: model_cache.py (the models), peers.py (the peers'
timings), wasm_calls.py (everything wasmtime), interface_timings.py (e2e, load, memory),
cold_start.py (footprint), http_timings.py (http), report.py, targets.py; this file runs them in order.
onnxruntime-web comes from bench/package.json + package-lock.json, installed with `npm ci`
into build/bench-node (ignored) when the lock file changes.
"""

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE.parent / "component"), str(HERE.parent / "tests")]

import numpy as np  # noqa: E402

import cold_start  # noqa: E402
from interface_timings import interface_cases, run_e2e, run_load, run_memory  # noqa: E402
from model_cache import MODELS, ZOO_MODELS, prepare_models  # noqa: E402
from peers import run_component, run_component_load, run_native_numpy, run_ort_native, run_ort_web  # noqa: E402
from report import PEERS, report  # noqa: E402
from bench_common import BUSY_LOADAVG, INT8_WASM, OUT, ROOT, SHAPE, WASM, log, stats  # noqa: E402
from targets import evaluate_targets  # noqa: E402
from tools.probe import SITE, Probe, probe_wasm  # noqa: E402
from wasm_calls import Runtime  # noqa: E402

import http_timings  # noqa: E402

STAGES = ("component", "plain", "numpy", "ort", "ort-web", "e2e", "load", "memory", "http", "profile", "footprint")


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


def environment():
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    from importlib.metadata import version

    stamps = {
        p.name: time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(p.stat().st_mtime))
        for p in sorted((ROOT / "build" / "wasi").glob(".*"))
        if p.is_file()
    }
    wasm_time = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(WASM.stat().st_mtime)) if WASM.exists() else None
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "commit": commit + ("+dirty" if dirty else ""),
        "python": platform.python_version(),
        "loadavg_start": os.getloadavg()[0],
        "numpy": np.__version__,
        "wasmtime": version("wasmtime"),
        "classifier_wasm": f"{WASM.relative_to(ROOT)} built {wasm_time}" if wasm_time else "missing",
        "wasi_stamps": stamps,
        "openblas_env": {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS_")},
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="timed runs per peer and model (>= 10)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs first")
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=[m for m in MODELS if m not in ZOO_MODELS])
    parser.add_argument(
        "--zoo",
        action="store_true",
        help=f"add the zoo's representatives ({', '.join(ZOO_MODELS)}): inference peers only",
    )
    parser.add_argument("--load-instances", type=int, default=10, help="fresh instances for the load time")
    parser.add_argument("--profile-passes", type=int, default=5)
    parser.add_argument(
        "--profile-models",
        nargs="*",
        choices=list(MODELS),
        default=None,
        help="models to profile per step (default: all measured)",
    )
    parser.add_argument("--top-steps", type=int, default=8)
    parser.add_argument("--skip", nargs="*", choices=STAGES, default=[], help="stages to leave out")
    parser.add_argument("--out", type=Path, default=OUT / "results.json")
    parser.add_argument("--baseline", type=Path, help="another component measured beside ours (footprint, cold start)")
    parser.add_argument("--compile-runs", type=int, default=3, help="cold compiles per component (footprint)")
    args = parser.parse_args()
    if args.zoo:
        args.models += [m for m in ZOO_MODELS if m not in args.models]
    if args.runs < 10 or args.load_instances < 10:
        log("warning: fewer than 10 runs/instances: medians below the benchmark's protocol")
    skip = set(args.skip)
    needed = ([WASM] if {"e2e", "load", "memory"} - skip else []) + (
        [SITE / "numpy", SITE / "PIL"] if "component" not in skip else []
    )
    missing = [str(p.relative_to(ROOT)) for p in needed if not p.exists()]
    if missing:
        sys.exit(f"missing {', '.join(missing)}: run `make component` (it builds wasi-deps too) first")
    if WASM.exists():
        inputs = [p for p in (ROOT / "build" / "wasi").glob(".*") if p.is_file()]
        inputs += list((ROOT / "component").rglob("*.py")) + [ROOT / "wit" / "classifier.wit"]
        newer = [p for p in inputs if p.stat().st_mtime > WASM.stat().st_mtime]
        if newer:
            log(
                f"warning: build/classifier.wasm is older than {', '.join(str(p.relative_to(ROOT)) for p in newer[:3])}"
                f"{' ...' if len(newer) > 3 else ''}: `make component` rebuilds it"
            )
    if os.getloadavg()[0] > BUSY_LOADAVG:
        log(f"warning: load average {os.getloadavg()[0]:.2f}: another job is running, timings will be inflated")
    OUT.mkdir(parents=True, exist_ok=True)
    profile = set(args.models if args.profile_models is None else args.profile_models) & set(args.models)
    if "profile" in skip:
        profile = set()

    import preprocess
    from photos import CHELSEA_JPEG

    models = prepare_models(args.models)
    # The typed interface's stages (e2e, load, memory) serve the app's own models, not the zoo's.
    app_models = {name: found for name, found in models.items() if name not in ZOO_MODELS}
    # A real photo, preprocessed as the app does by default: the same input for every peer.
    x = np.ascontiguousarray(preprocess.preprocess(CHELSEA_JPEG, preprocess.Preprocessing()), np.float32)
    assert x.shape == SHAPE, x.shape
    np.save(OUT / "input.npy", x)
    x.tofile(OUT / "input.f32")

    res = {
        "models": list(args.models),
        "settings": vars(args) | {"out": str(args.out)},
        "environment": environment(),
        "inference": {},
    }
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
            res["load_phases"] = run_component_load(probe, app_models)
        if "plain" not in skip:
            log("probe component under a plain wasmtime config")
            inf["component-plain"] = run_component(
                Probe(Runtime(wasm, cpu_cap=False)), models, x, args.warmup, args.runs, profile, args.profile_passes
            )
        del probe

    if {"e2e", "load", "memory"} - skip:
        t0 = time.perf_counter()
        runtime = Runtime(WASM)
        res["runtime_load_ms"] = (time.perf_counter() - t0) * 1000
        cases = interface_cases(runtime, app_models)
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
    if "footprint" not in skip and WASM.exists():
        log("footprint and cold start")
        wasms = {"ours": WASM} | ({"int8": INT8_WASM} if INT8_WASM.exists() else {})
        wasms |= {"baseline": args.baseline} if args.baseline else {}
        res["footprint"] = cold_start.run(wasms, CHELSEA_JPEG, args.compile_runs, args.load_instances)
    if "http" not in skip:
        res["http"] = http_timings.run(OUT, args.runs, log)
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
        name: {
            peer: stats(inf[peer]["models"][name]["times_ms"])
            for peer in PEERS
            if "times_ms" in inf.get(peer, {}).get("models", {}).get(name, {})
        }
        for name in args.models
    }

    text = report(res, args)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=1, default=str))
    (args.out.parent / "results.txt").write_text(text + "\n")
    log(f"wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")


if __name__ == "__main__":
    main()
