"""The benchmark's report: the tables it prints from a run's results."""

import numpy as np

import cold_start
import http_timings
from interface_timings import cases_of
from model_cache import MODELS
from bench_common import BUSY_LOADAVG, DEFAULT_MODEL_NAME, SHAPE, stats
from targets import ort_web_median

PEERS = {
    "component": "component (host/runtime.py config)",
    "component-plain": "  same, plain wasmtime config",
    "numpy": "numpy engine native, OpenBLAS 1t",
    "ort": "onnxruntime native, 1 thread",
    "ort-web": "onnxruntime-web wasm SIMD 1t (Node)",
}
RATIOS = {"ort-web": "ort-web", "ort": "ort-native", "numpy": "native-numpy"}


def max_diff(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))


def kernel_table(profile_wasm, profile_plain, profile_native):
    """Per-kernel totals of the per-step medians: inside (host config, plain config) and native."""
    rows = {}
    others = {
        "plain": profile_plain["steps"] if profile_plain else [],
        "native": profile_native["steps"] if profile_native else [],
    }
    for i, step in enumerate(profile_wasm["steps"]):
        row = rows.setdefault(
            step["kernel"],
            {
                "steps": 0,
                "ms": 0.0,
                "plain_ms": 0.0,
                "native_ms": 0.0,
                "flops": 0,
                "matmul_ms": 0.0,
                "plain_matmul_ms": 0.0,
            },
        )
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


def report(res, args):
    lines = []
    p = lines.append
    env = res["environment"]
    p(
        f"Benchmark {env['date']}  {env['cpu']}  ({env['cores']} cores)  commit {env['commit']}  "
        f"load average {env['loadavg_start']:.2f} at start, {res['loadavg_end']:.2f} at end"
    )
    if max(env["loadavg_start"], res["loadavg_end"]) > BUSY_LOADAVG:
        p(
            f"WARNING: the machine was busy (load average > {BUSY_LOADAVG}): timings are inflated; rerun on a quiet machine"
        )
    p(f"component: {env['classifier_wasm']}  probe: {env.get('probe', '-')}")
    p(
        f"numpy (host) {env['numpy']}  onnxruntime {env.get('onnxruntime', '-')}  onnxruntime-web "
        f"{env.get('onnxruntime_web', '-')} on Node {env.get('node', '-')} (ort.env.wasm {env.get('ort_web_wasm_env', '-')})"
        f"  wasmtime-py {env['wasmtime']}"
    )
    blas = env.get("native_blas")
    if blas:
        p(
            f"native numpy BLAS: {blas.get('library')} kernel={blas.get('corename')} threads={blas.get('num_threads')} "
            f"via {blas.get('via')}; env {blas.get('env')}"
        )
    p("")
    p(
        f"Inference, one {'x'.join(map(str, SHAPE))} float32 forward pass: ms over {args.runs} runs after "
        f"{args.warmup} warm-up runs; max|dlogit| against onnxruntime native"
    )
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
            if r is None or "error" in r:
                why = per.get(peer, {}).get("error", "skipped") if r is None else r["error"]
                p(f"  {label:<44}{'(' + why + ')':>36}")
                continue
            s = stats(r["times_ms"])
            medians[peer] = s["median"]
            diff = f"{max_diff(r['logits'], ref):.1e}" if ref is not None and peer != "ort" else ""
            p(
                f"  {label:<44}{fmt_ms(s['median']):>9}{fmt_ms(s['p90']):>9}{fmt_ms(s['min']):>9}"
                f"{fmt_ms(s['max']):>9}   {diff}"
            )
        if "component" in medians:
            ratios = [
                f"component/{short} = {medians['component'] / medians[peer]:.1f}x"
                for peer, short in RATIOS.items()
                if peer in medians
            ]
            p("  ratios: " + ", ".join(ratios))
        if "component-plain" in medians:
            ratios = [
                f"{medians['component-plain'] / medians[peer]:.1f}x {short}"
                for peer, short in RATIOS.items()
                if peer in medians
            ]
            p(
                "  plain wasmtime config: "
                + ", ".join(ratios)
                + (
                    f"; host.runtime config costs {medians['component'] / medians['component-plain']:.2f}x"
                    if "component" in medians
                    else ""
                )
            )
        for key, e2e in cases_of(res.get("e2e", {}), name):
            label = f"classify e2e {key[len(name) + 1 :]}, typed interface"
            if "error" in e2e:
                p(f"  {label:<44}  FAILED: {e2e['error']}")
                continue
            s = stats(e2e["times_ms"])
            transfer = stats(e2e["call_overhead_ms"])["median"]
            extra = f" = host call+transfer {fmt_ms(transfer)}"
            if "component" in medians:
                extra += (
                    f" + inference {fmt_ms(medians['component'])}"
                    f" + decode/preprocess/rest {fmt_ms(s['median'] - medians['component'] - transfer)}"
                )
            p(
                f"  {label:<44}{fmt_ms(s['median']):>9}{fmt_ms(s['p90']):>9}{fmt_ms(s['min']):>9}{fmt_ms(s['max']):>9}{extra}"
            )
            p(
                f"    first call {fmt_ms(e2e['first_call_ms'])} ms (loads the model unless embedded); top-1 "
                f"{e2e['top1']['index']} {e2e['top1']['label']!r} ({e2e['top1']['score']:.3f})"
            )
        if cases_of(res.get("e2e", {}), name):
            e2e = cases_of(res["e2e"], name)[0][1]
            if "native_preprocess_ms" in e2e:
                p(
                    f"    e2e = classify(scikit-image chelsea as JPEG q90, {e2e['jpeg_bytes'] // 1000} KB, 5) timed by the host; "
                    f"host call+transfer = the same call with a same-size non-image"
                )
                p(
                    f"    (wasmtime-py lowers list<u8> byte by byte); the app's preprocessing natively: "
                    f"{fmt_ms(stats(e2e['native_preprocess_ms'])['median'])} ms"
                )

    if res.get("load"):
        report_load(p, res, args)
    if res.get("memory"):
        report_memory(p, res)
    if res.get("http"):
        p("")
        http_timings.report(p, res["http"], ort_web_median(res, DEFAULT_MODEL_NAME))
    if res.get("footprint"):
        cold_start.report(p, res["footprint"])

    p("")
    p("Targets (from the issue):")
    for t in res["targets"]:
        p(f"  [{'ok  ' if t['met'] else 'MISS' if t['met'] is False else '?   '}] {t['text']}")

    for name, prof in res.get("profile", {}).items():
        report_profile(p, name, prof, args)
    return "\n".join(lines)


def report_load(p, res, args):
    p("")
    p(
        f"Model load per fresh instance of build/classifier.wasm (median of {args.load_instances} instances; "
        "ms; instance = instantiate, load = first call: classify of an empty body)"
    )
    p(
        f"  {'model [how]':<30}{'instance':>10}{'load':>9}{'total':>9}{'total p90':>11}   "
        "engine.load_model in probe / ort / ort-web"
    )
    for name in res["models"]:
        inside = res["inference"].get("component", {}).get("models", {}).get(name, {}).get("load_ms")
        ort_l = res["inference"].get("ort", {}).get("models", {}).get(name, {}).get("load_ms")
        web_l = res["inference"].get("ort-web", {}).get("models", {}).get(name, {}).get("load_ms")
        for key, r in cases_of(res["load"], name):
            if "error" in r:
                p(f"  {key:<30}FAILED: {r['error']}")
                continue
            t = stats(r["total_ms"])
            p(
                f"  {key:<30}{fmt_ms(stats(r['instantiate_ms'])['median']):>10}{fmt_ms(stats(r['model_info_ms'])['median']):>9}"
                f"{fmt_ms(t['median']):>9}{fmt_ms(t['p90']):>11}   {fmt_ms(inside)} / {fmt_ms(ort_l)} / {fmt_ms(web_l)}"
            )
    p(
        f"  (wasmtime Runtime() for the component, compile or cache load, once per host process: "
        f"{fmt_ms(res.get('runtime_load_ms'))} ms)"
    )
    phases = res.get("load_phases")
    if phases:
        p("  a model load's phases in a fresh probe instance (ms, first load on cold memory / warm median);")
        p("  'rest' = the [file] model-info load above minus their first-load total (sidecar, labels, info, call)")
        p(
            f"  {'model':<20}{'read file':>12}{'sha256':>14}{'parse':>14}{'fuse':>12}{'plan':>14}{'total':>14}{'rest':>7}"
        )
        for name in res["models"]:
            ph = phases.get(name)
            if not ph:
                continue
            first, warm = ph["first"], ph["warm"]
            cells = "".join(
                f"{fmt_ms(first[k]) + ' / ' + fmt_ms(warm.get(k)):>{w}}"
                for k, w in (
                    ("read_file", 12),
                    ("sha256", 14),
                    ("parse", 14),
                    ("fuse", 12),
                    ("plan", 14),
                    ("total", 14),
                )
            )
            load = res["load"].get(f"{name} [file]", {})
            rest = stats(load["model_info_ms"])["median"] - first["total"] if "model_info_ms" in load else None
            p(f"  {name:<20}{cells}{fmt_ms(rest):>7}")


def report_memory(p, res):
    p("")
    p("Peak memory of an instance: smallest Store memory limit under which classify(chelsea.jpg) succeeds")
    p(
        f"  (instantiation alone needs {res['memory']['initial_mib']} MiB: the initial memory of the build-time snapshot)"
    )
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
    p(
        f"  host/runtime.py config: steps {fmt_ms(total)} ms of a {fmt_ms(run_med)} ms walk (Python loop "
        f"{fmt_ms(run_med - total)} ms); plain wasmtime config: steps {fmt_ms(plain_total)} ms; GFLOP/s at the host config"
    )
    p(
        f"  {'kernel':<16}{'steps':>6}{'ms':>8}{'share':>7}{'plain ms':>10}{'native ms':>11}{'ms/native':>11}"
        f"{'plain/native':>14}{'GFLOP/s':>9}   matmul part of the 1x1 convs (host / plain)"
    )
    for kernel, r in rows.items():
        gflops = f"{r['flops'] / r['ms'] / 1e6:.2f}" if r["flops"] and r["ms"] else ""
        ratio = f"{r['ms'] / r['native_ms']:.1f}x" if r["native_ms"] else ""
        plain_ratio = f"{r['plain_ms'] / r['native_ms']:.1f}x" if r["native_ms"] and r["plain_ms"] else ""
        note = f"{fmt_ms(r['matmul_ms'])} / {fmt_ms(r['plain_matmul_ms'] or None)} ms" if r["matmul_ms"] else ""
        p(
            f"  {kernel:<16}{r['steps']:>6}{fmt_ms(r['ms']):>8}{100 * r['ms'] / total:>6.0f}%"
            f"{fmt_ms(r['plain_ms'] or None):>10}{fmt_ms(r['native_ms'] or None):>11}{ratio:>11}{plain_ratio:>14}{gflops:>9}   {note}"
        )
    p("  most expensive steps (host config; plain config; native), ms:")
    plain_steps = plain["steps"] if plain else []
    native_steps = native["steps"] if native else []
    for s in sorted(wasm["steps"], key=lambda s: -s["ms"])[: args.top_steps]:
        i = s["index"]
        pl = plain_steps[i]["ms"] if i < len(plain_steps) else None
        n = native_steps[i]["ms"] if i < len(native_steps) else None
        split = f"   (matmul {fmt_ms(s['matmul_ms'])})" if "matmul_ms" in s else ""
        p(f"    #{i:<4}{s['label']:<50}{fmt_ms(s['ms']):>7}{fmt_ms(pl):>7}{fmt_ms(n):>7}{split}")
