"""Footprint and cold start of a component file, for build/classifier.wasm and, with
--baseline, another build measured beside it in the same run (e.g. build/bench/baseline.wasm,
made by `make bench BASELINE=<commit>` from that commit's sources):

  size          the file, and how much of it is code (core modules) and snapshot (data segments:
                tools/footprint.py);
  compile       `wasmtime compile` with the compilation cache off (what Spin or `wasmtime serve`
                pays when nothing is cached), wall and CPU time, medians of --compile-runs;
  instantiate   a fresh instance of the compiled component (host/ harness config), median;
  memory        the instance's initial memory (the snapshot's) and its peak while classifying
                a photo with the embedded model (interface_timings.run_memory's bisection).
"""

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from interface_timings import Case, run_memory
from bench_common import ROOT, log, stats
from tools import footprint
from wasm_calls import Grants, Runtime

WASMTIME = Path(sys.executable).with_name("wasmtime")


def cold_compile_ms(wasm, runs):
    """(wall times, CPU times) in ms: wasmtime compiles on every core, and on a shared machine
    the CPU time is the steadier of the two."""
    wall, cpu = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(runs):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            subprocess.run([str(WASMTIME), "compile", "-C", "cache=n", str(wasm), "-o", f"{tmp}/out.cwasm"], check=True)
            wall.append((time.perf_counter() - t0) * 1000)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append((after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1000)
    return wall, cpu


def instantiate_ms(runtime, runs):
    times = []
    for _ in range(runs + 1):  # the first one is a warm-up
        t0 = time.perf_counter()
        store, instance = runtime.instantiate(Grants())
        times.append((time.perf_counter() - t0) * 1000)
        del store, instance
    return times[1:]


def measure(wasm, jpeg, compile_runs, instantiate_runs):
    wasm = Path(wasm)
    fig = footprint.measure(wasm)
    code = sum(m["total"] - m["data"] for m in fig["modules"])
    result = {
        "file": str(wasm.relative_to(ROOT) if wasm.is_relative_to(ROOT) else wasm),
        "bytes": fig["size"],
        "code_bytes": code,
        "snapshot_bytes": fig["snapshot"]["data_section"],
        "core_modules": len(fig["modules"]),
    }
    log(f"cold compile of {result['file']} x{compile_runs}")
    result["compile_ms"], result["compile_cpu_ms"] = cold_compile_ms(wasm, compile_runs)
    runtime = Runtime(wasm)
    result["instantiate_ms"] = instantiate_ms(runtime, instantiate_runs)
    log(f"peak memory of {result['file']} (bisection)")
    memory = run_memory(runtime, [Case("embedded", None, None, embedded=True)], jpeg)
    result["initial_mib"] = memory["initial_mib"]
    peak = memory["models"]["embedded [embedded]"]
    result["peak_mib"] = peak.get("peak_mib")
    result["peak_error"] = peak.get("error")
    return result


def run(wasms, jpeg, compile_runs, instantiate_runs):
    """label -> figures, for {label: wasm path}."""
    return {label: measure(wasm, jpeg, compile_runs, instantiate_runs) for label, wasm in wasms.items()}


def report(p, figures):
    labels = list(figures)
    p("")
    p("Footprint and cold start (" + "; ".join(f"{k}: {v['file']}" for k, v in figures.items()) + ")")
    p(f"  {'':<44}" + "".join(f"{k:>14}" for k in labels) + ("      ours/baseline" if "baseline" in figures else ""))

    def row(name, key, fmt, scale=1.0):
        cells = [figures[k].get(key) for k in labels]
        text = "".join(f"{'-' if v is None else fmt.format(v / scale):>14}" for v in cells)
        if "baseline" in figures and None not in (figures["ours"].get(key), figures["baseline"].get(key)):
            text += f"      {figures['ours'][key] / figures['baseline'][key]:.2f}x"
        p(f"  {name:<44}{text}")

    for f in figures.values():
        f["compile_median_ms"] = stats(f["compile_ms"])["median"]
        f["compile_cpu_median_ms"] = stats(f["compile_cpu_ms"])["median"]
        f["instantiate_median_ms"] = stats(f["instantiate_ms"])["median"]
    row("size, MiB", "bytes", "{:.1f}", 2**20)
    row("  code (core modules), MiB", "code_bytes", "{:.1f}", 2**20)
    row("  snapshot (data segments), MiB", "snapshot_bytes", "{:.1f}", 2**20)
    row(
        f"cold compile (cache off), s, median of {len(figures[labels[0]]['compile_ms'])}",
        "compile_median_ms",
        "{:.1f}",
        1000,
    )
    row("  the same, CPU time (all threads), s", "compile_cpu_median_ms", "{:.1f}", 1000)
    row(f"instantiate, ms, median of {len(figures[labels[0]]['instantiate_ms'])}", "instantiate_median_ms", "{:.1f}")
    row("initial memory, MiB", "initial_mib", "{:.0f}")
    row("peak memory classifying a photo, MiB", "peak_mib", "{:.0f}")
