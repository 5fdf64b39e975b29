"""binaryen's `wasm-opt -O2` over the libraries a component links (CPython, libc, libc++, numpy's
and Pillow's extension modules...): none of them went through it when built (CPython's and
libc's come prebuilt with componentize-py, numpy's meson link passes no -O to clang's wasm
driver), and it removes what LLVM leaves (measured on the int8 component: numpy's core 3.56 ->
2.77 MB, libpython 6.03 -> 5.20 MB). -O2, not -Oz: -Oz took numpy's core to 2.62 MB, but
trades speed for size, and these are the loops inference runs.

binaryen comes from Debian (tools/apt-install.sh cross: Pillow's Asyncify needs it too). An
optimized module is cached under build/wasm-opt/ by the hash of its input: the libraries are the
same from one build to the next, only the snapshot's module changes.
"""

import hashlib
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "build" / "wasm-opt"
# The features the libraries are built with, all of which wasmtime, Spin and jco's Node take;
# wasm-opt refuses a module using another, and emits none outside these.
FEATURES = ["simd", "bulk-memory", "mutable-globals", "sign-ext", "nontrapping-float-to-int", "extended-const"]
COMMAND = ["wasm-opt", "-O2", *(f"--enable-{f}" for f in FEATURES)]


def version():
    return subprocess.run(["wasm-opt", "--version"], capture_output=True, text=True, check=True).stdout.strip()


def optimized(module, label="", keep_names=False):
    """The bytes of core module `module` after wasm-opt -O2 (cached); `keep_names`: with its
    name section (wasm-opt drops it otherwise)."""
    command = COMMAND + (["-g"] if keep_names else [])
    key = hashlib.sha256(" ".join([version(), *command]).encode() + bytes(module)).hexdigest()[:24]
    out = CACHE / f"{key}.wasm"
    if not out.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        given, partial = out.with_suffix(".in.wasm"), out.with_suffix(".partial.wasm")
        given.write_bytes(module)
        print(f"wasm-opt -O2 {label} ({len(module) / 2**20:.1f} MiB)", flush=True)
        subprocess.run([*command, str(given), "-o", str(partial)], check=True)
        given.unlink()
        partial.replace(out)
    return out.read_bytes()
