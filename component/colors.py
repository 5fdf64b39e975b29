"""Pixel conversions to 8-bit RGB that Pillow cannot do inside the component, in numpy.

    lab_to_rgb(array)    CIE L*a*b* (Pillow's "LAB" mode) -> sRGB. Native Pillow converts
                         with LittleCMS (ImageCms), which the component does not include;
                         these are the exact CIE formulas for the same profiles: L*a*b* with
                         the D50 white (ImageCms.createProfile("LAB")'s), the sRGB primaries
                         adapted to D50 (Bradford, as in the ICC sRGB profile), the sRGB curve.
    wide_to_8bit(array)  16-bit samples (modes I;16*, and I taken as 16-bit) -> 0..255, rounded
                         to the nearest level, so that an 8-bit image widened (v * 257) comes
                         back exactly.

Both work per pixel, so the caller can convert an image band by band.
"""

import numpy as np

D50_WHITE = np.array([0.9642, 1.0, 0.8249], np.float32)
# XYZ (D50) -> linear sRGB, the inverse of the Bradford-adapted sRGB primaries.
XYZ_D50_TO_LINEAR_SRGB = np.array(
    [[3.1338561, -1.6168667, -0.4906146], [-0.9787684, 1.9161415, 0.0334540], [0.0719453, -0.2289914, 1.4052427]],
    np.float32,
)
EPSILON = np.float32(6 / 29)  # where the CIE f(t) changes from linear to cubic


def lab_to_rgb(lab):
    """(..., 3) uint8 as np.asarray gives a LAB image (L* scaled to 0..255, a* and b* as
    signed bytes) -> (..., 3) uint8 sRGB; colors outside the sRGB gamut are clipped."""
    light = lab[..., 0].astype(np.float32) * np.float32(100 / 255)
    a = lab[..., 1].view(np.int8).astype(np.float32)  # the bytes are two's complement
    b = lab[..., 2].view(np.int8).astype(np.float32)
    fy = (light + 16) / 116
    f = np.stack([fy + a / 500, fy, fy - b / 200], axis=-1)
    xyz = np.where(f > EPSILON, f * f * f, 3 * EPSILON * EPSILON * (f - np.float32(4 / 29))) * D50_WHITE
    linear = np.clip(xyz @ XYZ_D50_TO_LINEAR_SRGB.T, 0, 1)
    encoded = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** np.float32(1 / 2.4) - 0.055)
    return (encoded * 255 + 0.5).astype(np.uint8)


def wide_to_8bit(samples):
    """Integer samples with a 16-bit range (any integer dtype) -> uint8, clipped to 0..65535."""
    wide = np.clip(samples, 0, 65535).astype(np.uint32)
    return ((wide * 255 + 32767) // 65535).astype(np.uint8)
