"""MaxPool and AveragePool as the backends see them (PoolSpec), so that the lowering resolves the
ONNX attributes (auto_pad, ceil_mode, count_include_pad, dilations) once and the backends'
`max_pool(p, x, spec)` / `avg_pool(p, x, spec)` get explicit numbers (x: the input Value, in
any layout: the backends ask for NHWC). Shapes are logical, NCHW order, as in ConvSpec.

Windows and divisors follow onnxruntime: with ceil_mode the output may gain one window that
hangs over the end padding (never one that starts past the input and its begin padding); an
average divides by the taps inside the input (count_include_pad=0) or inside the input and
its explicit pads (count_include_pad=1), never by taps past the pads.
"""

from dataclasses import dataclass
from math import ceil, floor

import numpy as np


def pool_out_size(size, kernel, stride, pad_begin, pad_end, dilation, ceil_mode):
    """Output length of one spatial axis (onnxruntime's rule, see the module docstring)."""
    span = (kernel - 1) * dilation + 1
    out = (ceil if ceil_mode else floor)((size + pad_begin + pad_end - span) / stride) + 1
    if ceil_mode and (out - 1) * stride >= size + pad_begin:
        out -= 1
    return out


@dataclass(frozen=True)
class PoolSpec:
    """One planned pooling node."""

    shape: tuple  # output (N, C, Ho, Wo): ceil_mode already resolved into Ho, Wo
    in_hwc: tuple  # (H, W, C)
    kernel: tuple  # (kh, kw)
    strides: tuple  # (sh, sw)
    pads: tuple  # (top, left, bottom, right), auto_pad resolved
    dilations: tuple = (1, 1)
    count_include_pad: bool = False  # AveragePool only

    @property
    def out_hw(self):
        return self.shape[2], self.shape[3]

    def taps_in(self, axis, inside_pads):
        """Per output index along spatial `axis` (0: H, 1: W), how many of the window's taps
        fall inside the input (or inside the input and its pads)."""
        size, k, s, d = self.in_hwc[axis], self.kernel[axis], self.strides[axis], self.dilations[axis]
        begin, end = self.pads[axis], self.pads[axis + 2]
        lo, hi = (-begin, size + end) if inside_pads else (0, size)
        starts = np.arange(self.out_hw[axis]) * s - begin
        positions = starts[:, None] + np.arange(k)[None, :] * d
        return ((positions >= lo) & (positions < hi)).sum(axis=1)

    def divisors(self):
        """float32 (Ho, Wo): what each output of an AveragePool divides its sum by."""
        rows, cols = (self.taps_in(a, self.count_include_pad) for a in (0, 1))
        return (rows[:, None] * cols[None, :]).astype(np.float32)

    @property
    def overhang(self):
        """(bottom, right): how far ceil_mode's last windows reach past the end pads (0 without)."""
        extra = []
        for axis in (0, 1):
            span = (self.kernel[axis] - 1) * self.dilations[axis] + 1
            needed = (self.out_hw[axis] - 1) * self.strides[axis] + span
            have = self.in_hwc[axis] + self.pads[axis] + self.pads[axis + 2]
            extra.append(max(needed - have, 0))
        return tuple(extra)

    def label(self, family, implementation):
        """'maxpool3x3s2[xnnpack] 112x112x64->56x56x64', as ConvSpec.label."""
        (kh, kw), (sh, sw) = self.kernel, self.strides
        (h, w, c), (ho, wo) = self.in_hwc, self.out_hw
        name = f"{family}{kh}x{kw}" + (f"s{sh}" if sh == sw else f"s{sh}x{sw}")
        return f"{name}[{implementation}] {h}x{w}x{c}->{ho}x{wo}x{c}"
