"""What a component's bytes are: code per core module (and its custom sections), and what the
build-time snapshot (the data segments of the module owning the memory) holds.

    python tools/footprint.py [WASM]            # default build/classifier.wasm
    python tools/footprint.py --modules         # also: the snapshot's heap by Python module
                                                # (`make` builds a measuring component, minutes)
    python tools/footprint.py --json WASM       # the figures as JSON (bench/cold_start.py: measure())

The snapshot is split into: memory below the heap (the shadow stack and the static data of
CPython, libc and the extension modules), the heap's live chunks (those of 64 KiB and more are
numpy array buffers, the model's weights; the rest are Python objects and C allocations), the
free chunks' non-zero bytes (garbage that tools/shrink.py zeroes) and zero bytes kept inside
segments. --modules charges the live heap to the modules whose import made it
(tools/guest/heap_trace.py).
"""
import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tools import dlmalloc  # noqa: E402
from tools import shrink  # noqa: E402
from tools import wasm_binary as wb  # noqa: E402

MIB = 2**20
BIG_CHUNK = 65536


def module_row(module):
    """Bytes of one core module by kind of section."""
    row = {"name": module.name or f"module {module.index}", "total": module.size,
           "code": 0, "data": 0, "names": 0, "debug": 0, "other_custom": 0, "rest": 0}
    for s in module.sections():
        size = s.end - s.start
        if s.id == 10:
            row["code"] += size
        elif s.id == shrink.DATA:
            row["data"] += size
        elif s.id == 0 and s.name == "name":
            row["names"] += size
        elif s.id == 0 and s.name.startswith(".debug_"):
            row["debug"] += size
        elif s.id == 0:
            row["other_custom"] += size
        else:
            row["rest"] += size
    return row


def snapshot_figures(owner):
    image, heap, _ = shrink.snapshot_image(owner)
    segments = wb.data_segments(owner.body, owner.section(shrink.DATA))
    stored = sum(s.size for s in segments)
    zeros = sum(owner.body[s.start:s.start + s.size].tobytes().count(0) for s in segments)
    below = image[:heap.start]
    big = [size for _, size in heap.live if size >= BIG_CHUNK]
    return {
        "data_section": owner.section(shrink.DATA).end - owner.section(shrink.DATA).start,
        "segments": len(segments),
        "stored_bytes": stored,
        "zero_bytes_in_segments": zeros,
        "below_heap_nonzero": len(below) - below.count(0),
        "heap_live": heap.live_bytes(),
        "heap_live_chunks": len(heap.live),
        "heap_live_big": sum(big),
        "heap_live_big_chunks": len(big),
        "heap_free": heap.free_bytes(),
        "heap_free_nonzero": dlmalloc.dirty_free_bytes(image, heap),
    }


def measure(wasm):
    """The footprint figures of a component file."""
    data = Path(wasm).read_bytes()
    modules = wb.core_modules(data)
    owner = shrink.memory_owner(modules)
    return {"file": str(wasm), "size": len(data), "modules": [module_row(m) for m in modules],
            "snapshot": snapshot_figures(owner)}


def print_report(fig):
    rows = fig["modules"]
    print(f"{fig['file']}: {fig['size'] / MIB:.1f} MiB ({fig['size']:,} bytes), {len(rows)} core modules")
    print(f"  {'core module':58} {'total':>9} {'code':>9} {'names':>8} {'debug':>8} {'custom':>7}")
    for r in sorted(rows, key=lambda r: -r["total"]):
        if r["total"] - r["data"] < 4096:
            continue
        print(f"  {r['name'][:58]:58} {r['total'] / MIB:8.2f}M {r['code'] / MIB:8.2f}M "
              f"{r['names'] / 1024:7.0f}K {r['debug'] / 1024:7.0f}K {r['other_custom'] / 1024:6.0f}K")
    code = sum(r["total"] - r["data"] for r in rows)
    custom = sum(r["names"] + r["debug"] + r["other_custom"] for r in rows)
    print(f"  all modules without the snapshot: {code / MIB:.2f} MiB, of which custom sections "
          f"{custom / MIB:.2f} MiB (names {sum(r['names'] for r in rows) / MIB:.2f})")
    s = fig["snapshot"]
    print(f"  snapshot: {s['data_section'] / MIB:.2f} MiB in {s['segments']} segments:")
    print(f"    below the heap (stack, static data), non-zero  {s['below_heap_nonzero'] / MIB:7.2f} MiB")
    print(f"    heap, live chunks >= 64 KiB (array buffers)    {s['heap_live_big'] / MIB:7.2f} MiB"
          f" in {s['heap_live_big_chunks']} chunks")
    print(f"    heap, live chunks < 64 KiB (objects)           "
          f"{(s['heap_live'] - s['heap_live_big']) / MIB:7.2f} MiB in {s['heap_live_chunks'] - s['heap_live_big_chunks']} chunks")
    print(f"    heap, freed memory still non-zero (garbage)    {s['heap_free_nonzero'] / MIB:7.2f} MiB"
          f" (free in all: {s['heap_free'] / MIB:.2f} MiB)")
    print(f"    zero bytes stored inside segments              {s['zero_bytes_in_segments'] / MIB:7.2f} MiB")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wasm", nargs="?", default=ROOT / "build" / "classifier.wasm", type=Path)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--modules", action="store_true",
                        help="also charge the snapshot's heap to Python modules (a measuring build)")
    parser.add_argument("--trace", type=Path, help="with --modules: a heap trace made before (--trace-heap)")
    args = parser.parse_args()
    fig = measure(args.wasm)
    if args.modules:
        from tools import heap_by_module
        fig["heap_by_module"] = heap_by_module.measure(args.trace)
    if args.json:
        print(json.dumps(fig))
        return
    print_report(fig)
    if args.modules:
        heap_by_module.print_report(fig["heap_by_module"])


if __name__ == "__main__":
    main()
