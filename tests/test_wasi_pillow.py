"""Pillow cross-compiled for wasm32-wasi decodes and resizes inside the component as natively."""

import io
import json

import numpy as np
import pytest
from PIL import Image
from skimage import data as photos

import corpus
import preprocess
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
    "webp": encode(CHELSEA, "WEBP", quality=80),
    "webp-lossless": encode(CHELSEA, "WEBP", lossless=True),
    "webp-alpha": encode(corpus.with_alpha(CHELSEA), "WEBP"),
    "webp-animated": corpus.animated("WEBP"),
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
    return jpeg[:counts] + bytes([255] * 16) + jpeg[counts + 16 :]


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


APP_PREPROCESSING = """
import preprocess
result = preprocess.to_model_image(data, preprocess.Preprocessing()).tobytes()
"""
# The app's own preprocessing (decode, upright, RGB, resize, crop) on what it is sent most.
APP_SAMPLES = {
    **SAMPLES,
    "rgba-png": encode(corpus.with_alpha(CHELSEA), "PNG"),
    "16-bit-png": encode(corpus.sixteen_bit(CHELSEA), "PNG"),
    "lab-tiff": encode(corpus.lab(CHELSEA), "TIFF"),
    "exif-rotated": encode(CHELSEA, "JPEG", exif=corpus.rotated_exif()),
}


@pytest.mark.parametrize("kind", APP_SAMPLES)
def test_app_preprocessing_matches_native(probe, kind):
    encoded = APP_SAMPLES[kind]
    inside = np.frombuffer(probe.run(APP_PREPROCESSING, encoded), np.uint8).astype(int)
    native = np.frombuffer(preprocess.to_model_image(encoded, preprocess.Preprocessing()).tobytes(), np.uint8)
    difference = np.abs(inside - native)
    # L*a*b* goes through libm's powf, whose last bit may differ between wasi-libc and glibc.
    assert difference.max() <= (1 if kind == "lab-tiff" else 0) and difference.mean() < 0.01
