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

import numpy as np

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
    row = {
        "name": module.name or f"module {module.index}",
        "total": module.size,
        "code": 0,
        "data": 0,
        "names": 0,
        "debug": 0,
        "other_custom": 0,
        "rest": 0,
    }
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


REGIONS = ("below_heap", "heap_arrays", "heap_objects", "heap_free", "above_heap")


def snapshot_figures(owner):
    """Bytes the snapshot stores, by the region of memory they initialise (they add up to the
    data segments' contents), and of those, how many are zeros."""
    image, heap, _ = shrink.snapshot_image(owner)
    segments = wb.data_segments(owner.body, owner.section(shrink.DATA))
    region = np.full(len(image), REGIONS.index("above_heap"), np.int8)
    region[: heap.start] = REGIONS.index("below_heap")
    for address, size in heap.live:
        region[address : address + size] = REGIONS.index("heap_arrays" if size >= BIG_CHUNK else "heap_objects")
    for address, size in heap.free:
        region[address : address + size] = REGIONS.index("heap_free")
    stored = np.zeros(len(image), bool)
    for s in segments:
        stored[s.offset : s.offset + s.size] = True
    zero = np.frombuffer(bytes(image), np.uint8) == 0
    by_region = np.bincount(region[stored], minlength=len(REGIONS))
    zeros = np.bincount(region[stored & zero], minlength=len(REGIONS))
    section = owner.section(shrink.DATA)
    return {
        "data_section": section.end - section.start,
        "segments": len(segments),
        "stored": {name: int(n) for name, n in zip(REGIONS, by_region)},
        "stored_zeros": {name: int(n) for name, n in zip(REGIONS, zeros)},
        "heap_live_big_chunks": sum(1 for _, size in heap.live if size >= BIG_CHUNK),
        "heap_live_chunks": len(heap.live),
        "heap_free": heap.free_bytes(),
        "heap_free_nonzero": dlmalloc.dirty_free_bytes(image, heap),
    }


def measure(wasm):
    """The footprint figures of a component file."""
    data = Path(wasm).read_bytes()
    modules = wb.core_modules(data)
    owner = shrink.memory_owner(modules)
    return {
        "file": str(wasm),
        "size": len(data),
        "modules": [module_row(m) for m in modules],
        "snapshot": snapshot_figures(owner),
    }


def print_report(fig):
    rows = fig["modules"]
    print(f"{fig['file']}: {fig['size'] / MIB:.1f} MiB ({fig['size']:,} bytes), {len(rows)} core modules")
    print(f"  {'core module':58} {'total':>9} {'code':>9} {'names':>8} {'debug':>8} {'custom':>7}")
    for r in sorted(rows, key=lambda r: -r["total"]):
        if r["total"] - r["data"] < 4096:
            continue
        print(
            f"  {r['name'][:58]:58} {r['total'] / MIB:8.2f}M {r['code'] / MIB:8.2f}M "
            f"{r['names'] / 1024:7.0f}K {r['debug'] / 1024:7.0f}K {r['other_custom'] / 1024:6.0f}K"
        )
    code = sum(r["total"] - r["data"] for r in rows)
    custom = sum(r["names"] + r["debug"] + r["other_custom"] for r in rows)
    print(
        f"  all modules without the snapshot: {code / MIB:.2f} MiB, of which custom sections "
        f"{custom / MIB:.2f} MiB (names {sum(r['names'] for r in rows) / MIB:.2f})"
    )
    s = fig["snapshot"]
    print(
        f"  snapshot: {s['data_section'] / MIB:.2f} MiB in {s['segments']} segments; what its bytes initialise"
        " (MiB, of which zeros):"
    )
    labels = {
        "below_heap": "below the heap: shadow stack, static data of the libraries",
        "heap_arrays": f"heap, chunks >= 64 KiB: array buffers ({s['heap_live_big_chunks']} chunks)",
        "heap_objects": f"heap, smaller chunks: objects ({s['heap_live_chunks'] - s['heap_live_big_chunks']})",
        "heap_free": f"heap, freed memory (non-zero: {s['heap_free_nonzero'] / MIB:.2f})",
        "above_heap": "past the heap",
    }
    for name in REGIONS:
        print(f"    {labels[name]:<62}{s['stored'][name] / MIB:7.2f}  ({s['stored_zeros'][name] / MIB:.2f})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wasm", nargs="?", default=ROOT / "build" / "classifier.wasm", type=Path)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--modules", action="store_true", help="also charge the snapshot's heap to Python modules (a measuring build)"
    )
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
