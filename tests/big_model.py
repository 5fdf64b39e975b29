"""A synthetic model of ViT-B's size (~350 MB of float32 weights) for the big-model tests:
an image (N, 3, 16, 16) flattened to 768 features, then blocks of MatMuls as wide as ViT-B's
(four 768x768, a 768x3072 -> ReLU -> 3072x768 MLP with a residual Add), and a Gemm head to
1000 classes. Written once into build/test-models/ (with a sidecar for the classifier's
preprocessing) and reused while its name (which holds every parameter) is the same.

    path = big_model.write(blocks=12)    # 12 blocks: 343 MB
"""

import json
from pathlib import Path

import numpy as np
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "build" / "test-models"
WIDTH, HIDDEN, CLASSES, SIDE = 768, 3072, 1000, 16


def build(blocks, seed=0):
    """The ModelProto: blocks x 7.1 M weights, + the head."""
    rng = np.random.default_rng(seed)
    init, nodes = [], [helper.make_node("Flatten", ["x"], ["h0"], name="flatten")]

    def weight(name, rows, cols):
        w = rng.standard_normal((rows, cols), np.float32)
        w *= np.float32(1 / np.sqrt(rows))  # keeps activations near unit scale through the chain
        init.append(numpy_helper.from_array(w, name))
        return name

    h = "h0"
    for b in range(blocks):
        x = h
        for k in range(4):
            nodes.append(helper.make_node("MatMul", [h, weight(f"b{b}.sq{k}", WIDTH, WIDTH)], [f"b{b}.s{k}"]))
            h = f"b{b}.s{k}"
        nodes += [
            helper.make_node("MatMul", [h, weight(f"b{b}.up", WIDTH, HIDDEN)], [f"b{b}.u"]),
            helper.make_node("Relu", [f"b{b}.u"], [f"b{b}.r"]),
            helper.make_node("MatMul", [f"b{b}.r", weight(f"b{b}.down", HIDDEN, WIDTH)], [f"b{b}.d"]),
            helper.make_node("Add", [f"b{b}.d", x], [f"b{b}.out"]),
        ]
        h = f"b{b}.out"
    init.append(numpy_helper.from_array(rng.standard_normal(CLASSES, np.float32), "head.b"))
    nodes.append(helper.make_node("Gemm", [h, weight("head.w", CLASSES, WIDTH), "head.b"], ["y"], transB=1))
    graph = helper.make_graph(
        nodes,
        "big",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, SIDE, SIDE])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", CLASSES])],
        initializer=init,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)


def write(blocks=12, seed=0):
    """build/test-models/big-<blocks>x<...>.onnx and its sidecar .json; made if missing."""
    path = FOLDER / f"big-{blocks}x{WIDTH}x{HIDDEN}-seed{seed}.onnx"
    if not path.exists():
        FOLDER.mkdir(parents=True, exist_ok=True)
        print(f"writing {path.relative_to(ROOT)} ...", flush=True)
        partial = path.with_suffix(".partial")
        partial.write_bytes(build(blocks, seed).SerializeToString())
        partial.replace(path)
        path.with_suffix(".json").write_text(json.dumps({"name": path.stem, "input_size": SIDE, "resize": SIDE}))
    return path
