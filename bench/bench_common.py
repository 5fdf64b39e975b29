"""What every part of the benchmark shares: where things are, the input's shape, logging and
the statistics of a list of timings."""

import hashlib
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = ROOT / "build" / "bench"
WASM = ROOT / "build" / "classifier.wasm"
INT8_WASM = ROOT / "build" / "classifier-int8.wasm"  # make component QUANT=int8
SHAPE = (1, 3, 224, 224)
MiB = 1024 * 1024
# 1-minute load average above which another job shares the 2 cores (ours uses one).
BUSY_LOADAVG = 1.5


def log(message):
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def stats(times):
    t = np.asarray(times, dtype=np.float64)
    return {
        "n": int(t.size),
        "median": float(np.median(t)),
        "p90": float(np.percentile(t, 90)),
        "min": float(t.min()),
        "max": float(t.max()),
        "mean": float(t.mean()),
    }


def digest(*paths):
    h = hashlib.sha256()
    for p in paths:
        h.update(Path(p).read_bytes())
    return h.hexdigest()[:16]


# The model the component embeds by default (`make model`): what a POST /predict runs.
DEFAULT_MODEL_NAME = "efficientnet-lite0"
