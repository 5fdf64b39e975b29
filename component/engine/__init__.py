"""A small ONNX inference engine for MobileNetV2-family image classifiers, in numpy only.

    model = load_model(onnx_bytes)     # parse, fuse, plan: once
    logits = model.run(x)              # x: (N, 3, H, W) float32 -> (N, classes) float32

Pipeline: protobuf.py (wire format) -> onnx_reader.py (plain graph) -> fuse.py (BN/Pad/activation
folded into Conv) -> plan.py (layout choice, constant folding, one step per kernel) -> ops/.
"""
from .errors import ModelError
from .model import Model, load_model

__all__ = ["Model", "ModelError", "load_model"]
