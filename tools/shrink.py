"""Shrink a component componentize-py built, without changing what it runs:

- the code of the libraries it links goes through binaryen's optimizer (tools/wasm_opt.py);
- the custom sections of its core modules go (function names, DWARF, producers, dylink:
  wasmtime needs none of them to run the component; a trap's backtrace then shows function
  indices instead of names: build with `--keep-names` to debug one);
- the build-time snapshot (the data segments of the module that owns the memory) loses the
  garbage it carries: the payload of memory the app freed before the snapshot (dlmalloc's free
  chunks, tools/dlmalloc.py) and the shadow stack below the stack pointer are zeroed, and zero
  bytes cost nothing in a data segment.

    python tools/shrink.py IN.wasm OUT.wasm [--keep-names]
"""

import argparse
from pathlib import Path

from tools import dlmalloc, wasm_opt
from tools import wasm_binary as wb

DATA = 11


def memory_owner(modules):
    """The core module that defines the memory and holds the snapshot."""
    owners = [m for m in modules if m.section(5) is not None and m.section(DATA) is not None]
    if len(owners) != 1:
        raise ValueError(f"expected one core module defining a memory, found {len(owners)}")
    return owners[0]


def snapshot_image(module):
    """(memory image, its heap, exported globals) of the module owning the memory."""
    image = wb.memory_image(module.body, module.section(DATA))
    if image is None:
        raise ValueError("the snapshot has a data segment at a computed address")
    image += bytes(wb.WASM_PAGE)  # the heap's closing pseudo-chunk is read past the last byte
    exported = wb.exported_globals(module.body)
    return image, dlmalloc.walk(image, exported["__heap_base"]), exported


def scrub_snapshot(module):
    """The module with freed heap memory and the dead stack zeroed in its data segments."""
    image, heap, exported = snapshot_image(module)
    dlmalloc.scrub(image, heap)
    low, top = exported.get("__stack_low"), exported.get("__stack_pointer")
    if low is not None and top is not None and low < top <= heap.start:
        image[low:top] = bytes(top - low)  # the stack grows down: below its pointer is dead
    body, _ = wb.encode_data_section(image)
    return wb.rebuild_module(module.body, lambda s: body if s.id == DATA else s)


def is_library(module):
    """A shared library clang linked (named `*.so` by componentize-py), not its glue modules."""
    return module.name.endswith(".so")


def shrink(component, keep_names=False):
    modules = wb.core_modules(component)
    owner = memory_owner(modules)
    libraries = {m.index: m.name for m in modules if is_library(m)}
    strip = (lambda m: m) if keep_names else wb.without_custom_sections

    def change(index, module):
        if index == owner.index:
            module = scrub_snapshot(owner)
        elif index in libraries:
            return wasm_opt.optimized(strip(module), libraries[index], keep_names)
        return strip(module)

    return wb.map_core_modules(component, change)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--keep-names", action="store_true", help="keep the core modules' custom sections")
    args = parser.parse_args()
    data = args.input.read_bytes()
    out = shrink(data, args.keep_names)
    args.output.write_bytes(out)
    print(f"{args.input}: {len(data) / 2**20:.1f} MiB -> {args.output}: {len(out) / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
