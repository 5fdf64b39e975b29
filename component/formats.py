"""Image formats this build knows but cannot decode, named for a 415 (errors.UnsupportedFormat).

Three ways a format is known without being decodable here:
  - Pillow identifies it but only as a stub (GRIB, BUFR, HDF5, WMF/EMF: a handler must be
    registered from outside; the first three have the size 0x0), or reads a size and no
    pixels (MPEG);
  - Pillow parses its header but the decoder lives in a library this build leaves out
    (JPEG 2000: OpenJPEG; compressed TIFF: libtiff; EPS: Ghostscript);
  - Pillow does not identify it (no plugin, or AVIF's, which needs libavif), but the bytes
    carry a well-known signature (HEIF/HEIC and AVIF boxes, JPEG XL, JPEG XR, OpenEXR, SVG).
"""

import re

from PIL import ImageFile

from errors import UnsupportedFormat

DECODABLE = "JPEG, PNG, WebP, GIF, BMP, uncompressed TIFF and the other formats Pillow decodes by itself"
# ISO base media file format: a first box `ftyp` whose major and compatible brands say what it holds.
BRANDS = [
    ({b"avif", b"avis"}, "AVIF"),
    ({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"}, "HEIC (HEIF with HEVC)"),
    ({b"mif1", b"msf1", b"mif2"}, "HEIF"),
    ({b"jxl "}, "JPEG XL"),
]
SIGNATURES = [
    (b"\xff\x0a", "JPEG XL"),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "JPEG XL"),
    (b"II\xbc\x01", "JPEG XR"),
    (b"v/1\x01", "OpenEXR"),
]
# Pillow's own words when a tile's decoder is not compiled in (Image._getdecoder).
MISSING_DECODER = re.compile(r"decoder (\S+) not available")
IDENTIFIED_ONLY = {"MPEG"}  # plugins that read a size and never a pixel (not StubImageFile)
NEEDS = {"jpeg2k": "OpenJPEG", "libtiff": "libtiff", "avif": "libavif"}


def refuse(name, why):
    raise UnsupportedFormat(f"cannot decode {name} images: {why}; this build decodes {DECODABLE}")


def by_signature(data):
    """The name of a format Pillow has no plugin for, from the first bytes; None if unknown."""
    if data[4:8] == b"ftyp":
        size = int.from_bytes(data[:4], "big")
        brands = {data[i : i + 4] for i in range(8, min(max(size, 16), 256), 4)} - {data[12:16]}  # not the version
        for known, name in BRANDS:
            if brands & known:
                return name
    for signature, name in SIGNATURES:
        if data.startswith(signature):
            return name
    head = data[:4096].lstrip()
    if head.startswith((b"<?xml", b"<svg", b"<!DOCTYPE svg")) and b"<svg" in head:
        return "SVG"
    return None


def refuse_unidentified(data):
    """For bytes Pillow does not identify: UnsupportedFormat when a signature names them."""
    name = by_signature(data)
    if name:
        refuse(name, "this build includes no decoder for them")


def refuse_undecodable(image):
    """Before decoding: Pillow's stub plugins, and its MPEG plugin, only identify a format."""
    if isinstance(image, ImageFile.StubImageFile) or image.format in IDENTIFIED_ONLY:
        refuse(image.format, "Pillow only identifies this format, it has no decoder for it")


def refuse_missing_decoder(image, error):
    """After a failed decode: UnsupportedFormat when the decoder it needed is not in this build."""
    found = MISSING_DECODER.search(str(error))
    if image.format == "EPS" and "Ghostscript" in str(error):
        refuse("EPS", "they need Ghostscript, which this build does not include")
    if found:
        codec = found.group(1)
        compression = image.info.get("compression") if image.format == "TIFF" else None
        name = f"{image.format} ({compression} compression)" if compression else image.format
        refuse(name, f"their decoder needs {NEEDS.get(codec, codec)}, which this build does not include")
    if "JPEG 2000 support" in str(error):  # an ICNS icon stored as JPEG 2000
        refuse(f"{image.format} (JPEG 2000 content)", "their decoder needs OpenJPEG, which this build does not include")
