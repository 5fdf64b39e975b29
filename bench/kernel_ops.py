"""Times the backend methods beyond conv and dense (backends/__init__.py) inside the probe
component, XNNPACK's kernel against numpy's on the same input, at the shapes the
representative models run them at (docs/kernels.md has the figures).

    .venv/bin/python bench/kernel_ops.py [--runs N] [--only SUBSTRING]

Plain wasmtime config (no epoch interruption). Each case is one method called as a lowering would, on an input already in the layout the
method reads; only the method's own steps are timed (median of N runs (default 9), guest-side clock).
Convolutions with a fused activation go through load_model (a Conv -> activation model).
"""

import argparse
import io
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "component")]

import numpy as np  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from host.runtime import Grants, Runtime  # noqa: E402
from tools.probe import Probe, probe_wasm  # noqa: E402


def pool(what, x_shape, kernel, stride, pad, out_hw):
    n, c, h, w = x_shape
    return {
        "what": what,
        "x": x_shape,
        "nhwc": True,
        "spec": dict(
            shape=[n, c, *out_hw],
            in_hwc=[h, w, c],
            kernel=[kernel] * 2,
            strides=[stride] * 2,
            pads=[pad] * 4,
            dilations=[1, 1],
            count_include_pad=False,
        ),
    }


def conv_act(x_shape, w_shape, group, activation):
    """A Conv [-> Sigmoid -> Mul | -> HardSwish] model's bytes, for load_model."""
    rng = np.random.default_rng(0)
    after = {
        "silu": [helper.make_node("Sigmoid", ["c"], ["s"]), helper.make_node("Mul", ["c", "s"], ["y"])],
        "hardswish": [helper.make_node("HardSwish", ["c"], ["y"])],
        None: [],
    }[activation]
    k = w_shape[2]
    conv = helper.make_node("Conv", ["x", "w"], ["c" if after else "y"], group=group, pads=[k // 2] * 4)
    graph = helper.make_graph(
        [conv] + after,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(rng.standard_normal(w_shape).astype(np.float32) * 0.1, "w")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)], ir_version=8).SerializeToString()


CASES = {
    "maxpool 3x3 s2 (resnet50 stem) 112x112x64": pool("max_pool", (1, 64, 112, 112), 3, 2, 1, (56, 56)),
    "avgpool 2x2 s2 (densenet121 transition) 56x56x256": pool("avg_pool", (1, 256, 56, 56), 2, 2, 0, (28, 28)),
    "silu 112x112x96 (efficientnet_b0)": {"what": "unary", "x": (1, 96, 112, 112), "nhwc": True, "args": ["silu"]},
    "hardswish 112x112x16 (mobilenet_v3)": {
        "what": "unary",
        "x": (1, 16, 112, 112),
        "nhwc": True,
        "args": ["hardswish"],
    },
    "gelu 197x3072 (vit_b_16 MLP)": {"what": "unary", "x": (1, 197, 3072), "args": ["gelu"]},
    "softmax 12x197x197 (vit_b_16 attention)": {"what": "softmax", "x": (1, 12, 197, 197)},
    "layer norm 197x768 (vit_b_16)": {"what": "layer_norm", "x": (1, 197, 768), "args": [None, None, 1e-6]},
    "bmm 12 x 197x64x197 (vit_b_16 Q K^T)": {"what": "bmm", "x": (1, 12, 197, 64)},
    "transpose 197x12x64 -> 12x197x64 (vit_b_16 heads)": {
        "what": "transpose",
        "x": (1, 197, 12, 64),
        "args": [[0, 2, 1, 3]],
    },
    "dwconv 7x7 56x56x96 (convnext_tiny)": {
        "model": conv_act((1, 96, 56, 56), (96, 1, 7, 7), 96, None),
        "x": (1, 96, 56, 56),
        "step": "dwconv",
    },
    "conv1x1 + silu 112x112 16->96 (efficientnet_b0)": {
        "model": conv_act((1, 16, 112, 112), (96, 16, 1, 1), 1, "silu"),
        "x": (1, 16, 112, 112),
        "step": "conv",
    },
    "dwconv3x3 + hardswish 56x56x72 (mobilenet_v3)": {
        "model": conv_act((1, 72, 56, 56), (72, 1, 3, 3), 72, "hardswish"),
        "x": (1, 72, 56, 56),
        "step": "conv",
    },
}

SNIPPET = """
import time
from engine import backends
from engine.ops.pool_spec import PoolSpec
from engine.plan import Planner, Value
f = np.load(io.BytesIO(data))
cases, runs = json.loads(bytes(f["cases"]).decode()), int(f["runs"])
out = {}
for key, case in cases.items():
    x = f[key + "/x"]
    for kernels in ("xnnpack", "numpy"):
        if "model" in case:  # a conv [+ activation]: time every step but the layout changes
            model = engine.load_model(f[key + "/model"].tobytes(), kernels=kernels)
            steps, env0 = model.plan.steps, dict(model.plan.constants, **{model.plan.input_name: x})
        else:
            p = Planner(13, {}, backends.resolve(kernels))
            value = p.nhwc(Value("x", x.shape)) if case.get("nhwc") else Value("x", x.shape)
            if case["what"] == "bmm":
                b, h, t, d = x.shape
                value = p.lower("matmul", value, p.lower("transpose", value, (0, 1, 3, 2)), (b, h, t, t))
            elif "spec" in case:
                p.lower(case["what"], value, PoolSpec(**{k: tuple(v) if isinstance(v, list) else v
                                                         for k, v in case["spec"].items()}))
            else:
                p.lower(case["what"], value, *case.get("args", []))
            steps, env0 = p.steps, dict(p.constants, x=x)
        times = []
        for _ in range(runs):
            env, spent = dict(env0), 0.0
            for step in steps:
                args = [env[n] for n in step.inputs]
                t0 = time.perf_counter()
                env[step.output] = step.kernel(*args, **step.params)
                if not step.label.startswith(("to_nhwc", "to_nchw", "transpose")) or case.get("what") == "transpose":
                    spent += time.perf_counter() - t0
            times.append(spent * 1000)
        times.sort()
        out[f"{key}|{kernels}"] = [times[len(times) // 2], [s.label for s in steps]]
result = json.dumps(out).encode()
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--only", default="")
    args = parser.parse_args()
    cases = {k: v for k, v in CASES.items() if args.only in k}
    rng = np.random.default_rng(1)
    arrays = {
        "runs": np.array(args.runs),
        "cases": np.frombuffer(
            json.dumps({k: {n: True if n == "model" else v for n, v in c.items()} for k, c in cases.items()}).encode(),
            np.uint8,
        ),
    }
    for key, case in cases.items():
        arrays[key + "/x"] = rng.standard_normal(case["x"]).astype(np.float32)
        if "model" in case:
            arrays[key + "/model"] = np.frombuffer(case["model"], np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    print("building/loading the probe component...", file=sys.stderr)
    probe = Probe(Runtime(probe_wasm(), cpu_cap=False))  # the plain config: no epoch checks, no CPU cap
    print("timing inside the component...", file=sys.stderr)
    res = json.loads(probe.run(SNIPPET, buf.getvalue(), Grants(cpu_seconds=None)))
    print("| case | XNNPACK ms | numpy ms | speed-up |\n|---|---|---|---|")
    for key in cases:
        (xnn, labels), (ref, _) = res[f"{key}|xnnpack"], res[f"{key}|numpy"]
        print(f"| {key} | {xnn:.3f} | {ref:.3f} | {ref / xnn:.1f}x |")
        print("   ", labels, file=sys.stderr)


if __name__ == "__main__":
    main()
