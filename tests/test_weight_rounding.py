"""models/weight_rounding.py, the GPTQ rounding of the int8 model's conv weights: on correlated
inputs it gives a layer closer to the float one than nearest rounding, on uncorrelated inputs
it is nearest rounding, its per-row (depthwise) form is the shared form row by row, and the
windows it measures are the ones a Conv multiplies (checked against onnx's reference Conv)."""

import sys

import numpy as np
import pytest
from onnx import helper
from onnx.reference import ReferenceEvaluator

from conftest import ROOT

sys.path.insert(0, str(ROOT / "models"))
import weight_rounding


def layer(seed, rows=16, columns=48, samples=4000):
    """Float weights, per-row scales, and correlated inputs (a random mixing of white noise)."""
    rng = np.random.default_rng(seed)
    weights = rng.normal(size=(rows, columns))
    scale = np.abs(weights).max(1) / weight_rounding.QMAX
    inputs = rng.normal(size=(samples, columns)) @ rng.normal(size=(columns, columns))
    return weights, scale, inputs


def output_error(weights, scale, q, inputs):
    return float((((weights - q * scale[:, None]) @ inputs.T) ** 2).mean())


def nearest(weights, scale):
    return np.clip(np.round(weights / scale[:, None]), -weight_rounding.QMAX, weight_rounding.QMAX)


@pytest.mark.parametrize("seed", range(3))
def test_gptq_output_closer_to_float_than_nearest_rounding(seed):
    weights, scale, inputs = layer(seed)
    h = inputs.T @ inputs / len(inputs)
    q = weight_rounding.gptq(weights, scale, h)
    assert q.dtype == np.int8 and np.abs(q).max() <= weight_rounding.QMAX
    assert output_error(weights, scale, q, inputs) < 0.7 * output_error(weights, scale, nearest(weights, scale), inputs)


def test_gptq_is_nearest_rounding_on_uncorrelated_inputs():
    weights, scale, _ = layer(3)
    variances = np.linspace(0.5, 2, weights.shape[1])
    q = weight_rounding.gptq(weights, scale, np.diag(variances))
    assert np.array_equal(q, nearest(weights, scale))


def test_gptq_per_row_hessians_are_the_shared_form_row_by_row():
    weights, scale, _ = layer(4, rows=5, columns=9)
    rng = np.random.default_rng(5)
    mixes = rng.normal(size=(5, 9, 9))
    h = np.einsum("rik,rjk->rij", mixes, mixes)
    h[2, 4, :] = h[2, :, 4] = 0  # a dead input in one row
    together = weight_rounding.gptq(weights, scale, h)
    apart = [weight_rounding.gptq(weights[r : r + 1], scale[r : r + 1], h[r]) for r in range(5)]
    assert np.array_equal(together, np.concatenate(apart))


@pytest.mark.parametrize(
    "channels,out,kernel,stride,pads,group",
    [
        (3, 8, 3, 2, [0, 0, 1, 1], 1),
        (6, 6, 5, 1, [2, 2, 2, 2], 6),
        (4, 5, 1, 1, [0, 0, 0, 0], 1),
        (6, 6, 3, 2, [1, 1, 1, 1], 6),
    ],
)
def test_conv_windows_times_weights_is_the_conv(channels, out, kernel, stride, pads, group):
    rng = np.random.default_rng(6)
    x = rng.normal(size=(2, channels, 11, 11)).astype(np.float32)
    w = rng.normal(size=(out, channels // group, kernel, kernel)).astype(np.float32)
    attrs = dict(pads=pads, strides=[stride, stride], group=group)
    node = helper.make_node("Conv", ["x", "w"], ["y"], **attrs)
    graph = helper.make_graph(
        [node],
        "conv",
        [helper.make_tensor_value_info(n, 1, None) for n in ("x", "w")],
        [helper.make_tensor_value_info("y", 1, None)],
    )
    (expected,) = ReferenceEvaluator(helper.make_model(graph)).run(None, {"x": x, "w": w})
    windows = weight_rounding.conv_windows(x, w.shape, attrs)
    n, _, oh, ow = expected.shape
    if group == 1:
        got = (windows @ w.reshape(out, -1).T).reshape(n, oh, ow, out).transpose(0, 3, 1, 2)
    else:
        got = np.einsum("cpk,ck->cp", windows, w.reshape(out, -1)).reshape(out, n, oh, ow).transpose(1, 0, 2, 3)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_conv_windows_refuses_what_it_does_not_measure():
    x = np.zeros((1, 4, 8, 8), np.float32)
    with pytest.raises(ValueError, match="grouped"):
        weight_rounding.conv_windows(x, (4, 2, 3, 3), {"group": 2})
    with pytest.raises(ValueError, match="dilated"):
        weight_rounding.conv_windows(x, (4, 4, 3, 3), {"dilations": [2, 2]})
