"""Writes the ninja file that compiles Pillow's extension modules for wasm32-wasi.

    python gen_ninja.py PILLOW_SRC PREFIX OUT_DIR

PILLOW_SRC is the unpacked Pillow sdist, PREFIX holds the static zlib, libjpeg and libwebp, OUT_DIR gets
build.ninja, the objects and the modules. The C file lists are read from Pillow's setup.py, so
that they follow its version.
"""

import ast
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CC = HERE.parent / "bin" / "wasm-cc"
SUFFIX = ".cpython-314-wasm32-wasi.so"
WASM_OPT = "/usr/bin/wasm-opt"  # Debian's binaryen (build.sh installs it)


def setup_lists(setup_py):
    """setup.py's _IMAGING (src/*.c) and _LIB_IMAGING (src/libImaging/*.c) module names."""
    found = {}
    for node in ast.parse(setup_py.read_text()).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            if node.targets[0].id in ("_IMAGING", "_LIB_IMAGING"):
                found[node.targets[0].id] = ast.literal_eval(node.value)
    return found["_IMAGING"], found["_LIB_IMAGING"]


def main():
    pillow, prefix, out = (Path(a).resolve() for a in sys.argv[1:])
    imaging, lib_imaging = setup_lists(pillow / "setup.py")
    version = re.search(r'__version__ = "([^"]+)"', (pillow / "src/PIL/_version.py").read_text())[1]
    src = pillow / "src"
    # setup.py links its small "pil_imaging_mode" library (Mode.c) into every module.
    mode = src / "libImaging/Mode.c"
    modules = {
        "_imaging": [src / "_imaging.c"]
        + [src / f"{name}.c" for name in imaging]
        + [src / f"libImaging/{name}.c" for name in lib_imaging]
        + [mode, HERE / "jpeg_unwind.c"],
        "_imagingmath": [src / "_imagingmath.c", mode],
        "_imagingmorph": [src / "_imagingmorph.c", mode],
        "_webp": [src / "_webp.c", mode],
    }
    libs = {
        "_imaging": [prefix / "lib/libjpeg.a", prefix / "lib/libz.a"],
        # libwebp's own order: the mux/demux libraries use libwebp, which uses sharpyuv.
        "_webp": [prefix / f"lib/lib{name}.a" for name in ("webpmux", "webpdemux", "webp", "sharpyuv")],
    }
    # The codec functions that call setjmp give their names to jpeg_unwind.c's wrappers.
    renames = {
        src / "libImaging/JpegDecode.c": "-DImagingJpegDecode=pillow_ImagingJpegDecode",
        src / "libImaging/JpegEncode.c": "-DImagingJpegEncode=pillow_ImagingJpegEncode",
    }
    # The code that a longjmp can unwind through (see asyncify_removelist.py).
    jpeg_code = [*renames, HERE / "jpeg_unwind.c", prefix / "lib/libjpeg.a"]

    cflags = [
        "-O2",
        f"-I{HERE / 'include'}",  # our setjmp.h, ahead of wasi-libc's
        f"-I{prefix / 'include'}",
        f"-I{src / 'libImaging'}",
        "-DHAVE_LIBJPEG",
        "-DHAVE_LIBZ",
        f"-DPILLOW_VERSION='\"{version}\"'",
    ]
    lines = [
        f"cflags = {' '.join(cflags)}",
        "rule cc",
        f"  command = {CC} -MD -MF $out.d $cflags -c $in -o $out",
        "  depfile = $out.d",
        "  deps = gcc",
        "  description = CC $in",
        "rule link",
        f"  command = {CC} -shared -o $out $in $libs",
        "  description = LINK $out",
        # Asyncify lets jpeg_unwind.c's longjmp unwind the stack (see include/setjmp.h).
        # No import (libc, CPython) can start an unwind; -O2 after the pass (never before: the
        # remove-list names the linked functions) tidies the instrumented code; -g keeps names.
        "rule removelist",
        f"  command = python3 {HERE / 'asyncify_removelist.py'} {WASM_OPT} $out $module $jpeg -- $in",
        "  description = REMOVELIST $out",
        "rule asyncify",
        f"  command = {WASM_OPT} --asyncify --pass-arg=asyncify-ignore-imports"
        " --pass-arg=asyncify-removelist@@$removelist -O2 -g $in -o $out",
        "  description = ASYNCIFY $out",
    ]
    objects = {}
    for name, sources in modules.items():
        for c in sources:
            if c not in objects:
                rel = c.relative_to(src) if c.is_relative_to(src) else c.relative_to(HERE.parent)
                objects[c] = f"obj/{rel.with_suffix('.o')}"
                lines.append(f"build {objects[c]}: cc {c} | {CC}")
                if c in renames:
                    lines.append(f"  cflags = $cflags {renames[c]}")
        lib_paths = " ".join(str(p) for p in libs.get(name, []))
        implicit = f" | {CC} {lib_paths}"
        linked = f"{name}.linked.wasm" if name == "_imaging" else f"{name}{SUFFIX}"
        lines.append(f"build {linked}: link {' '.join(objects[c] for c in sources)}{implicit}")
        lines.append(f"  libs = {lib_paths}")
        if name == "_imaging":
            inputs = [objects.get(c, str(c)) for c in sources + libs[name]]
            jpeg = [objects.get(c, str(c)) for c in jpeg_code]
            others = " ".join(i for i in inputs if i not in jpeg)
            lines.append(
                f"build asyncify-removelist.txt: removelist {others}"
                f" | {linked} {' '.join(jpeg)} {HERE / 'asyncify_removelist.py'}"
            )
            lines.append(f"  module = {linked}")
            lines.append(f"  jpeg = {' '.join(jpeg)}")
            lines.append(f"build {name}{SUFFIX}: asyncify {linked} | asyncify-removelist.txt")
            lines.append("  removelist = asyncify-removelist.txt")
    out.mkdir(parents=True, exist_ok=True)
    (out / "build.ninja").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
