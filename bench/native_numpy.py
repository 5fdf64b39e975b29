"""Worker of bench/bench.py: the project's numpy engine on the host's CPython + numpy, with
OpenBLAS limited to one thread.

    python bench/native_numpy.py SPEC.json  -> JSON on stdout

bench.py runs it in a subprocess whose environment has OPENBLAS_NUM_THREADS=1 (and
OMP_NUM_THREADS=1) and lacks OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, so OpenBLAS picks its
kernel for this CPU by itself; threadpoolctl, when installed, also caps the threads and
reports the kernel, otherwise OpenBLAS's own API is asked through ctypes.
SPEC: {"models": {name: path}, "input": path.npy, "warmup": n, "runs": n, "profile": [names],
"profile_passes": n}.
"""

import ctypes
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT / "component")]

import numpy as np  # noqa: E402  (after the environment is set by the parent)

import engine_timing  # noqa: E402
from engine import ModelError  # noqa: E402

_limits = None  # keeps threadpoolctl's limit alive for the whole process


def _openblas_ctypes():
    """numpy's bundled OpenBLAS, asked directly: (corename, config, threads)."""
    libs = sorted((Path(np.__file__).resolve().parent.parent / "numpy.libs").glob("*openblas*.so*"))
    if not libs:
        return None
    lib = ctypes.CDLL(str(libs[0]))  # the already loaded library: same handle
    for suffix in ("64_", ""):
        prefix = "scipy_openblas_" if suffix else "openblas_"
        try:
            set_threads = getattr(lib, f"{prefix}set_num_threads{suffix}")
            corename = getattr(lib, f"{prefix}get_corename{suffix}")
            config = getattr(lib, f"{prefix}get_config{suffix}")
            threads = getattr(lib, f"{prefix}get_num_threads{suffix}")
        except AttributeError:
            continue
        set_threads.argtypes = [ctypes.c_int]
        set_threads(1)
        corename.restype = config.restype = ctypes.c_char_p
        return {
            "library": libs[0].name,
            "corename": corename().decode(),
            "config": config().decode(),
            "num_threads": threads(),
            "via": "ctypes (threadpoolctl not installed)",
        }
    return {"library": libs[0].name, "via": "ctypes: no known OpenBLAS symbols"}


def blas_info():
    global _limits
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:
        info = _openblas_ctypes()
    else:
        _limits = threadpool_limits(limits=1, user_api="blas")
        pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
        info = {
            "library": ", ".join(Path(p["filepath"]).name for p in pools),
            "corename": ", ".join(str(p.get("architecture")) for p in pools),
            "num_threads": max((p["num_threads"] for p in pools), default=None),
            "version": ", ".join(str(p.get("version")) for p in pools),
            "via": "threadpoolctl",
        }
    info = info or {}
    info["env"] = {k: v for k, v in os.environ.items() if k.startswith(("OPENBLAS_", "OMP_"))}
    info["numpy"] = np.__version__
    return info


def main():
    spec = json.loads(Path(sys.argv[1]).read_text())
    out = {"blas": blas_info(), "models": {}}
    x = np.load(spec["input"])
    for name, path in spec["models"].items():
        try:
            model, timing = engine_timing.time_model(Path(path).read_bytes(), x, spec["warmup"], spec["runs"])
        except ModelError as e:  # the zoo's models the engine cannot load yet
            out["models"][name] = {"error": str(e)}
            continue
        if name in spec.get("profile", ()):
            timing["profile"] = engine_timing.profile_plan(model, x, spec["profile_passes"])
        out["models"][name] = timing
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
