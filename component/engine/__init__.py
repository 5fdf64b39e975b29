"""A small ONNX inference engine for image classifiers (CNNs and vision transformers; the
operators are listed in docs/operators.md), on numpy arrays: XNNPACK's wasm SIMD kernels
inside the component, numpy's elsewhere (backends/).

    model = load_model(onnx_bytes)     # parse, fuse, plan: once (kernels="numpy" forces numpy's)
    logits = model.run(x)              # x: (N, 3, H, W) float32 -> (N, classes) float32

Pipeline: protobuf.py (wire format) -> onnx_reader.py (plain graph) -> fuse.py (BN/Pad/activation/
residual Add folded into Conv) -> plan.py (layout choice (layout.py), constant folding, one
lowering per op (ops/) deciding what each node is, the plan's backend (backends/) emitting how,
buffers.py for reused outputs) -> Plan.run, a plain loop over the steps.
"""

from .errors import ModelError
from .model import Model, load_model

__all__ = ["Model", "ModelError", "load_model"]
