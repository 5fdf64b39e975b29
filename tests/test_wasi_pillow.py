"""Pillow cross-compiled for wasm32-wasi decodes and resizes inside the component as natively."""
import io
import json

import numpy as np
import pytest
from PIL import Image
from skimage import data as photos

RESIZE = """
image = Image.open(io.BytesIO(data))
image = image.convert("RGB").resize((224, 224), Image.BICUBIC)
result = image.tobytes()
"""


def encode(image, fmt, **options):
    buf = io.BytesIO()
    image.save(buf, fmt, **options)
    return buf.getvalue()


def native_resized(encoded):
    return Image.open(io.BytesIO(encoded)).convert("RGB").resize((224, 224), Image.BICUBIC).tobytes()


CHELSEA = Image.fromarray(photos.chelsea())
SAMPLES = {
    "jpeg": encode(CHELSEA, "JPEG", quality=90),
    "png": encode(CHELSEA, "PNG"),
    "progressive-jpeg": encode(CHELSEA, "JPEG", quality=80, progressive=True),
    "cmyk-jpeg": encode(CHELSEA.convert("CMYK"), "JPEG"),
    "grayscale-png": encode(CHELSEA.convert("L"), "PNG"),
    "gif": encode(CHELSEA.convert("P", palette=Image.ADAPTIVE), "GIF"),
    "bmp": encode(CHELSEA, "BMP"),
    "tiff": encode(CHELSEA, "TIFF"),
}


@pytest.mark.parametrize("kind", SAMPLES)
def test_decode_and_resize_match_native(probe, kind):
    encoded = SAMPLES[kind]
    inside = np.frombuffer(probe.run(RESIZE, encoded), np.uint8).astype(int)
    native = np.frombuffer(native_resized(encoded), np.uint8).astype(int)
    max_diff = int(np.abs(inside - native).max())
    print(f"{kind}: max pixel difference inside vs native = {max_diff}")
    assert max_diff <= 2


def test_truncated_jpeg_raises_python_error(probe):
    truncated = SAMPLES["jpeg"][: len(SAMPLES["jpeg"]) // 2]
    with pytest.raises(Exception, match="truncated"):
        probe.run(RESIZE, truncated)


def test_random_bytes_are_not_an_image(probe):
    noise = np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    with pytest.raises(Exception, match="UnidentifiedImageError"):
        probe.run(RESIZE, noise)
