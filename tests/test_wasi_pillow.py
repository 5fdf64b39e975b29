"""Pillow cross-compiled for wasm32-wasi decodes and resizes inside the component as natively."""
import io
import json

import numpy as np
import pytest
from PIL import Image
from skimage import data as photos

from conftest import ProbeError

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
    with pytest.raises(ProbeError, match="OSError: image file is truncated"):
        probe.run(RESIZE, truncated)


def test_random_bytes_are_not_an_image(probe):
    noise = np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    with pytest.raises(ProbeError, match="UnidentifiedImageError"):
        probe.run(RESIZE, noise)


def with_bad_huffman_table(jpeg):
    """The JPEG with its first DHT's code counts claiming more than 256 codes: a fatal libjpeg
    error (JERR_BAD_HUFF_TABLE), reported through error_exit + longjmp."""
    dht = jpeg.index(b"\xff\xc4")
    counts = dht + 5  # marker (2), length (2), class/id (1), then 16 counts
    return jpeg[:counts] + bytes([255] * 16) + jpeg[counts + 16:]


FATAL_THEN_GOOD = """
outcome = []
try:
    Image.open(io.BytesIO(data)).load()
    outcome.append("decoded")
except OSError as e:
    outcome.append(f"OSError: {e}")
good = Image.open(io.BytesIO(good_jpeg)).convert("RGB")
outcome.append(good.size)
result = json.dumps(outcome).encode()
"""


def test_fatal_libjpeg_error_is_a_python_error_and_instance_survives(probe):
    corrupt = with_bad_huffman_table(SAMPLES["jpeg"])
    with pytest.raises(OSError) as native:
        Image.open(io.BytesIO(corrupt)).load()
    source = f"good_jpeg = {SAMPLES['jpeg']!r}\n" + FATAL_THEN_GOOD
    error, size = json.loads(probe.run(source, corrupt))
    assert error == f"OSError: {native.value}"
    assert size == list(CHELSEA.size)
