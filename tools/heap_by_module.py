"""The build-time snapshot's heap by Python module, from the measuring build's trace
(`make build/footprint/heap-trace.json`: the classifier built as `make component` builds it,
with tools/guest/heap_trace.py charging each live allocation to the import that made it).

Groups: the model (numpy arrays the engine allocated while loading the embedded model), numpy,
PIL, the standard library, the app's own modules, componentize-py's generated bindings
(wit_world), and what no import made.
"""

import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRACE = ROOT / "build" / "footprint" / "heap-trace.json"
MIB = 2**20
MEASURING = {"heap_trace", "lean_import", "snapshot_entry"}  # the measuring build's own
APP = {p.stem for p in (ROOT / "component").glob("*.py")} | {"engine", "embedded_model"}


def group_of(module, kind, where, stdlib):
    top = module.split(".")[0]
    if kind == "array" and "/engine/" in where:  # allocated by the engine: the planned model
        return "the model (arrays)"
    if top in ("numpy", "PIL"):
        return top
    if top in APP:
        return "the app"
    if top in ("wit_world", "componentize_py_types", "componentize_py_runtime", "componentize_py_async_support"):
        return "bindings (wit_world)"
    if top in MEASURING:
        return None
    if top in stdlib or top.startswith("_"):
        return "stdlib"
    return "outside any import" if not module else f"other ({top})"


def measure(trace_file=None):
    """Groups the trace of `trace_file`, or of `make`'s measuring build (made when out of date)."""
    if trace_file is None:
        subprocess.run(["make", "-s", str(TRACE.relative_to(ROOT))], cwd=ROOT, check=True)
    trace = json.loads(Path(trace_file or TRACE).read_text())
    stdlib = set(trace["stdlib"])
    groups, modules, model_files = {}, {}, {}
    for module, kind, where, size in trace["rows"]:
        group = group_of(module, kind, where, stdlib)
        if group is None:
            continue
        groups[group] = groups.get(group, 0) + size
        key = (group, module.split(".")[0] if group != "numpy" else ".".join(module.split(".")[:2]))
        modules[key] = modules.get(key, 0) + size
        if group == "the model (arrays)":
            name = Path(where).name if where.endswith(".py") else where
            model_files[name] = model_files.get(name, 0) + size
    return {
        "groups": groups,
        "modules": [[g, m, s] for (g, m), s in modules.items()],
        "model_arrays_by_file": model_files,
    }


def print_report(fig):
    total = sum(fig["groups"].values())
    print(
        f"  snapshot heap by module (traced live allocations, {total / MIB:.2f} MiB; tracemalloc sees "
        "the Python allocator and numpy's buffers, not C libraries' own malloc):"
    )
    for group, size in sorted(fig["groups"].items(), key=lambda kv: -kv[1]):
        top = sorted((r for r in fig["modules"] if r[0] == group), key=lambda r: -r[2])[:4]
        names = ", ".join(f"{m} {s / MIB:.2f}" for _, m, s in top)
        print(f"    {group:<24}{size / MIB:7.2f} MiB   {names}")
    files = ", ".join(
        f"{f} {s / MIB:.2f}" for f, s in sorted(fig["model_arrays_by_file"].items(), key=lambda kv: -kv[1])
    )
    print(f"    (the model's arrays by the file that allocated them, MiB: {files})")
