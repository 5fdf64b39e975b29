"""Int8 conv weights rounded for what each layer computes, not each weight to its nearest step.

quantize_static rounds every weight to the nearest multiple of its channel's scale. Those
errors add up in each output: a channel's error is the sum over its taps of (rounding error x
input), and inputs are correlated, so nearest rounding is not the closest int8 layer. GPTQ
(Frantar et al. 2023, "GPTQ: Accurate Post-Training Quantization for Generative Pre-trained
Transformers", built on Optimal Brain Quantization) rounds a layer's weights one input column
at a time and spreads each column's rounding error over the columns not yet rounded, weighted
by the inverse of the inputs' second moments H = E[x x^T] measured on calibration images. It
minimises the layer's output error E||(W - Q) x||^2 greedily and in closed form: no training,
no gradients. Columns go in order of decreasing input energy (GPTQ's "act order"). The inputs
x are the quantized model's own as quantize_static left it, every conv's in one pass over the
images (measuring layer by layer after the rounding before costs 49 passes, about 10 minutes
here, and measured no better).

Only the int8 weight values change: scales, zero points, graph and file size stay. Convs only
(1x1, full and depthwise): the classifier's Gemm sees one pooled 1280-vector per image, and 129
images cannot estimate a 1280x1280 H. bias_correction.py runs after this, on the rounded
weights. EfficientNet-Lite0 (docs/int8.md, "Recipes"): mean squared logit error against float32
on the 434 test photos 0.0056 -> 0.0041; top-1 agreement unchanged within its noise.
"""

from __future__ import annotations

import numpy as np
import onnx
from numpy.lib.stride_tricks import sliding_window_view
from onnx import helper, numpy_helper

try:
    from .bias_correction import probe_session
except ImportError:  # run as a script: models/ is on sys.path
    from bias_correction import probe_session

BATCH = 8
DAMPING = 0.01  # of H's mean diagonal, added to its diagonal (GPTQ's default): keeps H invertible
QMAX = 127  # quantize_static's symmetric int8 weights: -127..127


def round_weights(float_model: onnx.ModelProto, qdq_model: onnx.ModelProto, images: np.ndarray) -> None:
    """Re-round the int8 weights of qdq_model's Conv nodes in place, toward float_model's
    (BatchNormalization folded) weights, which quantize_static's int8 copies name with
    '_quantized' appended; a conv whose float weight is not found keeps its rounding."""
    floats = {i.name: i for i in float_model.graph.initializer}
    layers = [layer for layer in conv_layers(qdq_model) if layer[0].name.removesuffix("_quantized") in floats]
    hessians = input_moments(qdq_model, layers, images)
    for k, ((weight, scale, _), hessian) in enumerate(zip(layers, hessians)):
        shape = numpy_helper.to_array(weight).shape
        target = numpy_helper.to_array(floats[weight.name.removesuffix("_quantized")]).reshape(shape[0], -1)
        rounded = gptq(target, numpy_helper.to_array(scale).astype(np.float64), hessian)
        weight.CopyFrom(numpy_helper.from_array(rounded.reshape(shape), weight.name))
        if k % 10 == 9 or k == len(layers) - 1:
            print(f"  weight rounding: {k + 1}/{len(layers)} convs", flush=True)


def conv_layers(model: onnx.ModelProto) -> list[tuple[onnx.TensorProto, onnx.TensorProto, onnx.NodeProto]]:
    """(int8 weight, its scale, the Conv) for each Conv whose weight is a DequantizeLinear of
    constants."""
    producer = {o: n for n in model.graph.node for o in n.output}
    initializers = {i.name: i for i in model.graph.initializer}
    out = []
    for node in model.graph.node:
        source = producer.get(node.input[1]) if node.op_type == "Conv" and len(node.input) > 1 else None
        if source is not None and source.op_type == "DequantizeLinear" and source.input[0] in initializers:
            out.append((initializers[source.input[0]], initializers[source.input[1]], node))
    return out


def input_moments(model: onnx.ModelProto, layers: list, images: np.ndarray) -> list[np.ndarray]:
    """H = E[x x^T] over the windows x that each layer's Conv multiplies by its weights, its
    input as `model` computes it on `images`: (K, K) for a full conv, (C, K, K) for a depthwise
    one."""
    names = list(dict.fromkeys(node.input[0] for _, _, node in layers))
    session = probe_session(model, names)
    feed = session.get_inputs()[0].name
    shapes = [numpy_helper.to_array(weight).shape for weight, _, _ in layers]
    attrs = [{a.name: helper.get_attribute_value(a) for a in node.attribute} for _, _, node in layers]
    totals: list = [0.0] * len(layers)
    count = [0] * len(layers)
    for i in range(0, len(images), BATCH):
        values = dict(zip(names, session.run(names, {feed: images[i : i + BATCH]})))
        for k, (_, _, node) in enumerate(layers):
            windows = conv_windows(values[node.input[0]], shapes[k], attrs[k])
            totals[k] = totals[k] + np.einsum("...pi,...pj->...ij", windows, windows, optimize=True).astype(np.float64)
            count[k] += windows.shape[-2]
        print(f"  weight rounding: inputs of {min(i + BATCH, len(images))}/{len(images)} images", flush=True)
    return [total / n for total, n in zip(totals, count)]


def conv_windows(x: np.ndarray, shape: tuple, attrs: dict) -> np.ndarray:
    """The input windows of a Conv with weights of `shape` (O, I/group, kh, kw), in the weights'
    flattened order: (N*P, I*kh*kw) for group 1, (C, N*P, kh*kw) for a depthwise conv."""
    _, per_group, kh, kw = shape
    top, left, bottom, right = attrs.get("pads", [0, 0, 0, 0])
    sy, sx = attrs.get("strides", [1, 1])
    if attrs.get("dilations", [1, 1]) != [1, 1] or attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise ValueError("weight rounding: dilated or auto-padded convs are not handled")
    padded = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    windows = sliding_window_view(padded, (kh, kw), axis=(2, 3))[:, :, ::sy, ::sx]  # N, C, OH, OW, kh, kw
    channels, group = x.shape[1], attrs.get("group", 1)
    if group == 1:
        return windows.transpose(0, 2, 3, 1, 4, 5).reshape(-1, channels * kh * kw)
    if group == channels == shape[0] and per_group == 1:
        return windows.transpose(1, 0, 2, 3, 4, 5).reshape(channels, -1, kh * kw)
    raise ValueError(f"weight rounding: grouped convs (group={group}) other than depthwise are not handled")


def gptq(target: np.ndarray, scale: np.ndarray, hessian: np.ndarray) -> np.ndarray:
    """int8 (O, K) weights for float `target` (O, K) at per-row `scale` (O,), given the inputs'
    second moments `hessian`: (K, K) shared, or (O, K, K) one per row as in a depthwise conv.
    Columns are rounded in order of decreasing input energy (GPTQ's "act order": the columns
    that matter most are rounded while the most columns are left to absorb their errors)."""
    h = np.array(hessian, dtype=np.float64, ndmin=3)  # (1 or O, K, K)
    order = np.argsort(-np.einsum("bii->bi", h), axis=1, kind="stable")  # (1 or O, K)
    permuted = h[np.arange(len(h))[:, None, None], order[:, :, None], order[:, None, :]]
    order = np.broadcast_to(order, target.shape)
    rounded = _gptq_in_order(np.take_along_axis(target.astype(np.float64), order, axis=1), scale, permuted)
    out = np.empty_like(rounded)
    np.put_along_axis(out, order, rounded, axis=1)
    return out


def _gptq_in_order(weights: np.ndarray, scale: np.ndarray, h: np.ndarray) -> np.ndarray:
    """GPTQ proper: columns rounded left to right, each column's error pushed onto the later
    columns through the Cholesky factor of H^-1; h is (1, K, K) shared or (O, K, K)."""
    k = weights.shape[1]
    diagonal = np.einsum("bii->bi", h)
    # dead inputs (always 0) get 1 on the diagonal: their weights round to nearest, and H stays
    # invertible
    h = h + ((DAMPING * diagonal.mean(1))[:, None] + (diagonal == 0))[:, :, None] * np.eye(k)
    upper = np.linalg.cholesky(np.linalg.inv(h)).transpose(0, 2, 1)  # H^-1 = U^T U
    out = np.empty(weights.shape, dtype=np.int8)
    for i in range(k):
        column = weights[:, i]
        q = np.clip(np.round(column / scale), -QMAX, QMAX)
        out[:, i] = q
        error = (column - q * scale) / upper[:, i, i]
        weights[:, i + 1 :] -= error[:, None] * upper[:, i, i + 1 :]
    return out
