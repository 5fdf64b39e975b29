"""Timing of the project's numpy engine, the same code natively and inside the component.

bench.py imports this module natively (through bench/native_numpy.py) and sends its source
to the probe component, which execs it with `np` and `engine` bound; so it imports nothing
but numpy and the standard library, and reads only what the engine exposes:
`engine.load_model`, `Model.run` and, for the per-step profile, its `on_step` hook (each step's
`label` and `flops`, set by the engine at plan time, its inputs, output and time).
"""

import time

import numpy as np


def _ms(seconds):
    return seconds * 1000.0


def _median(values):
    """In plain Python: numpy's median needs numpy.ma, which the probe does not bundle."""
    v = sorted(values)
    mid = len(v) // 2
    return v[mid] if len(v) % 2 else (v[mid - 1] + v[mid]) / 2


def time_model(model_bytes, x, warmup, runs):
    """Loads the model and times `model.run(x)` `runs` times after `warmup` runs."""
    import engine  # the component's engine: on the path natively, preloaded in the probe

    t0 = time.perf_counter()
    model = engine.load_model(model_bytes)
    load_ms = _ms(time.perf_counter() - t0)
    y = None
    for _ in range(warmup):
        y = model.run(x)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        y = model.run(x)
        times.append(_ms(time.perf_counter() - t0))
    return model, {"load_ms": load_ms, "times_ms": times, "logits": np.asarray(y, np.float64).ravel().tolist()}


def load_phases(path, repeats):
    """Where a model load's time goes, phase by phase, as the classifier loads a model:
    read the file, its sha256 (the classifier reports it), parse (onnx_reader.read_model),
    fuse (fuse.fuse), plan (plan.Plan). The first round runs on a fresh instance's cold
    memory, as a real first load does; the later rounds are warm.
    Returns {"first": {phase: ms}, "warm": {phase: median ms}}."""
    from engine import fuse, onnx_reader, plan

    try:
        from hashlib import sha256
    except ImportError:  # the probe bundles no hashlib.py; its C module is built in
        from _sha2 import sha256

    rounds = []
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        with open(path, "rb") as f:
            data = f.read()
        t1 = time.perf_counter()
        sha256(data).hexdigest()
        t2 = time.perf_counter()
        model = onnx_reader.read_model(data)
        t3 = time.perf_counter()
        graph = fuse.fuse(model.graph, model.opset)
        t4 = time.perf_counter()
        plan.Plan(graph, model.opset)
        t5 = time.perf_counter()
        ms = {
            "read_file": _ms(t1 - t0),
            "sha256": _ms(t2 - t1),
            "parse": _ms(t3 - t2),
            "fuse": _ms(t4 - t3),
            "plan": _ms(t5 - t4),
        }
        ms["total"] = sum(ms.values())
        rounds.append(ms)
        del data, model, graph
    warm = {k: _median([r[k] for r in rounds[1:]]) for k in rounds[0]} if repeats else {}
    return {"first": rounds[0], "warm": warm}


def _shape(a):
    return list(np.shape(a))


def _flops(step, out):
    """Floating-point operations of one step: the lowering's count per batch item (Step.flops)
    times the batch (the output's first dim); None for steps it does not count."""
    return None if step.flops is None else int(step.flops) * int(np.shape(out)[0])


def _describe(step, inputs, out):
    """(kernel, label): the step's kernel family, e.g. 'dwconv3x3s2' (Step.label up to its
    '[implementation]': what the profile groups by, and matches between the component and
    native runs, whose implementations differ), and its whole label with the output shape,
    e.g. 'dwconv3x3s2[xnnpack] 112x112x96->56x56x96 -> (1, 56, 56, 96)'."""
    return step.label.split()[0].split("[")[0], f"{step.label} -> {tuple(np.shape(out))}"


def profile_plan(model, x, passes):
    """Times every step of the model's plan over `passes` forward passes (after one warm-up),
    through Model.run's per-step hook. For each 1x1 conv step it also times the bare matmul of
    the same operands, to split matmul from the bias/activation work around it.

    Returns {"steps": [...], "passes": n, "run_ms": [...]} with per-step medians."""
    per_step, matmul_only, info, run_ms = {}, {}, {}, []
    for p in range(passes + 1):
        index = iter(range(1 << 30))
        extra = []

        def on_step(step, args, out, seconds):
            i = next(index)
            if i not in info:
                name, label = _describe(step, args, out)
                info[i] = {"kernel": name, "label": label, "out_shape": _shape(out), "flops": _flops(step, out)}
            if not p:
                return
            per_step.setdefault(i, []).append(_ms(seconds))
            if getattr(step.kernel, "__name__", "") == "conv_pointwise":  # numpy's: a matmul inside
                a = args[0].reshape(-1, args[0].shape[-1])
                t0 = time.perf_counter()
                np.matmul(a, step.params["w"])
                extra.append(_ms(time.perf_counter() - t0))
                matmul_only.setdefault(i, []).append(extra[-1])

        started = time.perf_counter()
        model.run(x, on_step)
        if p:
            # The walk's own wall time minus the extra matmuls timed for the split.
            run_ms.append(_ms(time.perf_counter() - started) - sum(extra))
    result = []
    for i in sorted(per_step):
        entry = dict(info[i], index=i, ms=_median(per_step[i]))
        if i in matmul_only:
            entry["matmul_ms"] = _median(matmul_only[i])
        result.append(entry)
    return {"steps": result, "passes": passes, "run_ms": run_ms}
