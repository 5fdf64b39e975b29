"""component/preprocess.py natively (no wasm): the pixels against torchvision's convention done
the plain way, the conversions Pillow cannot do inside, bounded resizing, and every hostile
input of tests/corpus.py with the codecs the component lacks hidden. tests/test_hostile.py
sends the same corpus through the component."""

import io

import numpy as np
import pytest
from PIL import AvifImagePlugin, EpsImagePlugin, IcnsImagePlugin, Image, ImageOps
from skimage import data as photos

import colors
import corpus
import errors
import preprocess
from photos import encode

PREP = preprocess.Preprocessing()
WIDE = {"I;16", "I;16L", "I;16B", "I;16N", "I"}


def torchvision_way(data, prep=PREP):
    """The convention done plainly (the pipeline before preprocessing was bounded): decode,
    upright, RGB over white, the whole image resized to shorter side 256, the central crop."""
    image = Image.open(io.BytesIO(data))
    scale = prep.resize / min(image.size)
    image.draft("RGB", (int(image.size[0] * scale), int(image.size[1] * scale)))
    ImageOps.exif_transpose(image, in_place=True)
    if image.mode in WIDE:  # truncated, as it then was
        image = Image.fromarray(np.clip(np.asarray(image, np.float32) * (255 / 65535), 0, 255).astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        image = Image.alpha_composite(Image.new("RGBA", image.size, (255,) * 4), image.convert("RGBA"))
    image = image.convert("RGB")
    scale = prep.resize / min(image.size)
    size = (max(prep.resize, int(image.width * scale)), max(prep.resize, int(image.height * scale)))
    image = image.resize(size, Image.BICUBIC)
    left, top = (int(round((n - prep.input_size) / 2)) for n in size)
    return np.asarray(image.crop((left, top, left + prep.input_size, top + prep.input_size)))


def model_image(data):
    return np.asarray(preprocess.to_model_image(data, PREP))


def variants(photo):
    gray = photo.convert("L")
    return {
        "jpeg": encode(photo, quality=90),
        "progressive jpeg": encode(photo, progressive=True),
        "png": encode(photo, "PNG"),
        "gray png": encode(gray, "PNG"),
        "webp": encode(photo, "WEBP"),
        "gif": encode(photo.convert("P", palette=Image.ADAPTIVE), "GIF"),
        "rgba png": encode(corpus.with_alpha(photo), "PNG"),
        "cmyk jpeg": encode(photo.convert("CMYK")),
        "exif-rotated jpeg": encode(photo, exif=corpus.rotated_exif()),
        "1-bit png": encode(photo.convert("1"), "PNG"),
        "8-bit widened to 16": encode(corpus.sixteen_bit(photo), "PNG"),
        "5:1 panorama": encode(photo.resize((photo.width * 5, photo.height // 2)), "PNG"),
        "1:6 tall": encode(photo.resize((photo.width // 3, photo.height * 2)), "PNG"),
        "15:1 strip": encode(photo.resize((photo.width * 3, photo.width // 5)), "PNG"),
        "7x5 thumbnail": encode(photo.resize((7, 5)), "PNG"),
    }


PHOTOS = ["chelsea", "coffee", "astronaut", "rocket", "camera"]


@pytest.mark.parametrize("name", PHOTOS)
def test_pixels_are_torchvisions_on_photos(name):
    photo = Image.fromarray(getattr(photos, name)()).convert("RGB")
    for kind, data in variants(photo).items():
        assert np.array_equal(model_image(data), torchvision_way(data)), kind


def test_beyond_16_to_1_only_the_crop_is_resampled_within_2_levels():
    photo = Image.fromarray(photos.astronaut())
    for size in [(300, 4900), (4900, 300), (50, 3000), (3000, 50), (2, 5000), (5000, 1)]:
        data = encode(photo.resize(size, Image.BICUBIC), "PNG")
        plan = preprocess.plan_resize(size, PREP)
        assert max(axis.length for axis in plan) <= preprocess.MAX_RESIZED_SIDE
        difference = np.abs(model_image(data).astype(int) - torchvision_way(data))
        assert difference.max() <= 2 and (difference > 0).mean() < 0.1, size


@pytest.mark.parametrize("size", [(1, 40_000_000), (2, 100_000), (100_000, 2), (6300, 6300), (1, 1), (25_000, 1600)])
def test_resampling_never_exceeds_what_the_crop_needs(size):
    x, y = preprocess.plan_resize(size, PREP)
    assert x.length <= preprocess.MAX_RESIZED_SIDE and y.length <= preprocess.MAX_RESIZED_SIDE
    kept = (x.region[1] - x.region[0]) * (y.region[1] - y.region[0])
    # Whole only along axes resized whole; along a cropped axis, the crop's span and the filter's reach.
    for axis, n in ((x, size[0]), (y, size[1])):
        assert axis.region == (0, n) or axis.region[1] - axis.region[0] <= (axis.box[1] - axis.box[0]) + 20
        assert 0 <= axis.box[0] < axis.box[1] <= axis.region[1] - axis.region[0]
    assert kept <= size[0] * size[1]


def test_16_bit_samples_round_to_the_nearest_level():
    ramp = np.arange(65536, dtype=np.uint16)
    assert np.array_equal(colors.wide_to_8bit(ramp), np.round(ramp / 257).astype(np.uint8))
    assert np.array_equal(colors.wide_to_8bit(np.arange(256, dtype=np.uint16) * 257), np.arange(256))
    assert colors.wide_to_8bit(np.array([-5, 70000], np.int32)).tolist() == [0, 255]
    # A genuine 16-bit photo: its samples are within a level of the old truncation's, which
    # the bicubic filter's negative lobes can widen to 2.
    wide = Image.fromarray(
        (
            np.asarray(Image.fromarray(photos.camera()), np.uint16) * 257
            + np.random.default_rng(0).integers(0, 257, (512, 512))
        ).astype(np.uint16)
    )
    data = encode(wide, "PNG")
    difference = np.abs(model_image(data).astype(int) - torchvision_way(data))
    assert difference.max() <= 2 and difference.mean() < 0.6


def lab_photo():
    return corpus.lab(Image.fromarray(photos.chelsea()))


def test_lab_to_rgb_agrees_with_littlecms():
    lab = lab_photo()
    ours = colors.lab_to_rgb(np.asarray(lab)).astype(int)
    theirs = np.asarray(lab.convert("RGB")).astype(int)  # native Pillow: ImageCms (LittleCMS)
    difference = np.abs(ours - theirs)
    print(f"LAB -> RGB vs LittleCMS: max {difference.max()}, mean {difference.mean():.3f}")
    assert difference.mean() < 0.5 and np.percentile(difference, 99.9) <= 3
    # and it is the inverse of LittleCMS's RGB -> LAB, up to 8-bit L*a*b*'s own rounding
    original = np.asarray(Image.fromarray(photos.chelsea())).astype(int)
    assert np.abs(ours - original).mean() < 1.0


def test_lab_tiff_is_classified_as_its_rgb():
    lab = encode(lab_photo(), "TIFF")
    rgb = encode(Image.fromarray(photos.chelsea()), "PNG")
    assert np.abs(model_image(lab).astype(int) - model_image(rgb)).mean() < 1.5


def test_unreadable_exif_is_ignored():
    data = bytearray(encode(Image.fromarray(photos.chelsea()), exif=b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\xff\xff"))
    assert np.array_equal(model_image(bytes(data)), model_image(encode(Image.fromarray(photos.chelsea()))))


def test_preprocessing_settings_are_checked_and_normalization_made_once():
    prep = preprocess.Preprocessing.from_settings({"mean": [0.5] * 3, "std": [0.5] * 3, "labels": "x.txt"})
    assert prep.settings() == {
        "input_size": 224,
        "resize": 256,
        "mean": (0.5,) * 3,
        "std": (0.5,) * 3,
        "interpolation": "bicubic",
    }
    assert np.allclose(prep.scale, 1 / 127.5) and np.allclose(prep.offset, -1)
    tensor = preprocess.to_tensor(Image.new("RGB", (224, 224), (0, 255, 51)), prep)
    assert np.allclose(tensor[0, :, 0, 0], [-1, 1, 51 / 127.5 - 1])
    for bad in [
        {"resize": 100},
        {"input_size": 0},
        {"input_size": 224.5},
        {"std": [0, 1, 1]},
        {"mean": [0.5]},
        {"interpolation": "lanczos"},
    ]:
        with pytest.raises(ValueError):
            preprocess.Preprocessing.from_settings(bad)
    with pytest.raises(TypeError):  # made from mean and std, never given
        preprocess.Preprocessing(scale=3)


# --- the corpus, natively, as the component's build decodes it ---------------------------------
@pytest.fixture
def component_codecs(monkeypatch):
    """Native Pillow without what the component's build leaves out: OpenJPEG, libtiff, libavif,
    Ghostscript (LittleCMS stays: the component converts LAB without it anyway)."""
    for decoder in ("jpeg2k_decoder", "libtiff_decoder", "avif_decoder"):
        monkeypatch.delattr(Image.core, decoder, raising=False)
    monkeypatch.setattr(AvifImagePlugin, "SUPPORTED", False)
    monkeypatch.setattr(IcnsImagePlugin, "enable_jpeg2k", False)
    monkeypatch.setattr(EpsImagePlugin, "gs_binary", False)


def status_of(data):
    """(HTTP status, message) the component's policy gives these bytes."""
    try:
        preprocess.to_model_image(data, PREP)
        return 200, ""
    except Exception as e:  # the policy decides; a 500 is the failure
        failure = errors.policy(e)
        return failure.status, failure.message


@pytest.mark.parametrize("name", list(corpus.build()))
def test_corpus_natively(component_codecs, name):
    case = corpus.build()[name]
    status, message = status_of(case.data)
    assert (status, case.says in message) == (case.status, True), message


def test_mutants_natively(component_codecs):
    statuses = {}
    for name, data in corpus.mutants(600, seed=80):
        status, message = status_of(data)
        assert status in corpus.STATUS_CASE, f"{name}: {status} {message}"
        statuses[status] = statuses.get(status, 0) + 1
    print("native mutants:", statuses)
    assert statuses[200] > 50 and statuses[400] > 50  # the mutants reach the decoders
