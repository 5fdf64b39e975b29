"""Timings through build/classifier.wasm's typed interface (imgcls:classifier/classify):
end to end classify calls, model load per fresh instance, and an instance's peak memory."""

import hashlib
import time

from bench_common import MiB, log
from wasm_calls import Grants, call, describe_error, quiet_stderr, short_error, timed


class Case:
    """One way an instance of build/classifier.wasm gets its model: a file granted at /models
    and named by MODEL_PATH, or the model embedded in the component's build-time snapshot."""

    def __init__(self, model, path, folder, embedded=False):
        self.model, self.path, self.folder, self.embedded = model, path, folder, embedded
        self.key = f"{model} [embedded]" if embedded else f"{model} [file]"

    def grants(self, memory_limit=None):
        grants = (
            Grants()
            if self.embedded
            else Grants(dirs={self.folder: "/models"}, env={"MODEL_PATH": f"/models/{self.path.name}"})
        )
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
            results[case.key] = {"model": case.model, "error": f"classify: {describe_error(payload)}"}
            continue
        for _ in range(max(warmup - 1, 0)):
            call(runtime, store, instance, "classify", jpeg, 5)
        times = []
        for _ in range(runs):
            (_, r), ms = timed(runtime, store, instance, "classify", jpeg, 5)
            times.append(ms)
        top = r[0]
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
        results[case.key] = {
            "model": case.model,
            "embedded": case.embedded,
            "jpeg_bytes": len(jpeg),
            "first_call_ms": first_ms,
            "times_ms": times,
            "call_overhead_ms": overhead,
            "native_preprocess_ms": native,
            "top1": {"index": top.index, "label": top.label, "score": top.score},
        }
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
                (ok, answer), _ = timed(runtime, store, instance, "classify", b"", 1)
            except Exception as e:
                results[case.key] = {"model": case.model, "error": f"classify trapped: {short_error(e)}"}
                break
            t2 = time.perf_counter()
            if ok or answer.tag != "not-an-image":
                results[case.key] = {"model": case.model, "error": f"classify(b''): {describe_error(answer)}"}
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
        results[case.key] = {
            "model": case.model,
            "embedded": case.embedded,
            "instantiate_ms": inst_ms,
            "model_info_ms": info_ms,
            "total_ms": total_ms,
            "info": {"name": info.name, "parameters": info.parameters},
        }
    return results


def classify_fits(runtime, case, jpeg, limit):
    """Does a fresh instance capped at `limit` bytes of linear memory classify the photo?"""
    try:
        with quiet_stderr():
            store, instance = runtime.instantiate(case.grants(limit))
            ok, payload = call(runtime, store, instance, "classify", jpeg, 5)
        return ok, None if ok else describe_error(payload)
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
        results[case.key] = {
            "model": case.model,
            "embedded": case.embedded,
            "peak_mib": peak,
            "fails_at_mib": fails_at,
            "failure_below": why,
        }
    return {"initial_mib": initial, "models": results}


def cases_of(section, name):
    """(case key, entry) of one model in a per-case section (e2e, load, memory)."""
    return [(key, entry) for key, entry in section.items() if entry.get("model") == name]
