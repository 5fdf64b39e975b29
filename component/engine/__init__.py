"""A small ONNX inference engine for image classifiers (CNNs and vision transformers; the
operators are listed in docs/operators.md), on numpy arrays: XNNPACK's wasm SIMD kernels
inside the component, numpy's elsewhere (accel.py).

    model = load_model(onnx_bytes)     # parse, fuse, plan: once (kernels="numpy" forces numpy's)
    logits = model.run(x)              # x: (N, 3, H, W) float32 -> (N, classes) float32

Pipeline: protobuf.py (wire format) -> onnx_reader.py (plain graph) -> fuse.py (BN/Pad/activation/
residual Add folded into Conv) -> plan.py (layout choice, constant folding, one step per kernel,
buffers.py for reused outputs) -> ops/ (conv_numpy.py, xnn.py, ...).
"""
from .errors import ModelError
from .model import Model, load_model

__all__ = ["Model", "ModelError", "load_model"]
