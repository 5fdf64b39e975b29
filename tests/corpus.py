"""A corpus of hostile and odd images, generated here, each with the answer the component owes it.

    CORPUS: {name: Case(data, status, says)}  status is the HTTP status (200 classified, 400 not
        an image, 415 a known format this build cannot decode, 422 too large); `says` is a piece
        of the error message (the format's name for a 415).
    mutants(count, seed): seeded mutants of small valid images (JPEG, progressive JPEG, PNG,
        GIF, TIFF, BMP, WebP): bit flips, byte runs, truncations, chunk lengths, header sizes.

Real files of every format native Pillow writes, with the modes that format holds; formats
Pillow only identifies (stubs) or decodes with a library this build leaves out; signatures of
formats Pillow has no plugin for; crafted headers (sizes and offsets past 2**31, which are
OverflowErrors on wasm32's 32-bit ssize_t, unknown pixel formats, zero sizes); extreme sizes.
"""

import functools
import io
import random
import struct
import zlib
from dataclasses import dataclass

import numpy as np
from PIL import Image

from photos import CHELSEA, encode

STATUS_CASE = {200: None, 400: "not-an-image", 415: "unsupported-format", 422: "image-too-large"}


@dataclass(frozen=True)
class Case:
    data: bytes
    status: int
    says: str = ""


SMALL = CHELSEA.resize((96, 64), Image.BICUBIC)  # the seed of most files: small, a real photo


def with_alpha(image):
    rgba = image.convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(image.size))
    return rgba


def animated(fmt, **options):
    frames = [SMALL, SMALL.rotate(180), SMALL.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    buf = io.BytesIO()
    frames[0].save(buf, fmt, save_all=True, append_images=frames[1:], duration=100, **options)
    return buf.getvalue()


def rotated_exif():
    """EXIF orientation 6: the stored picture must be turned 90 degrees clockwise to view."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return exif


def sixteen_bit(image):
    return Image.fromarray(np.asarray(image.convert("L"), np.uint16) * 257)


def lab(image):
    """The photo in CIE L*a*b*, as a LAB TIFF stores it (converted natively with LittleCMS)."""
    from PIL import ImageCms

    transform = ImageCms.buildTransform(ImageCms.createProfile("sRGB"), ImageCms.createProfile("LAB"), "RGB", "LAB")
    return transform.apply(image.convert("RGB"))


def written():
    """Files of every format native Pillow writes (and this build decodes), in their modes."""
    rgb, gray, p = SMALL, SMALL.convert("L"), SMALL.convert("P", palette=Image.ADAPTIVE)
    p_transparent = p.copy()
    p_transparent.info["transparency"] = 0
    exif = rotated_exif()
    files = {
        "jpeg": encode(rgb, quality=90),
        "jpeg progressive": encode(rgb, progressive=True),
        "jpeg gray": encode(gray),
        "jpeg cmyk": encode(rgb.convert("CMYK")),
        "jpeg exif rotated": encode(rgb, exif=exif),
        "mpo": encode(rgb, "MPO"),
        "png": encode(rgb, "PNG"),
        "png gray": encode(gray, "PNG"),
        "png 1-bit": encode(rgb.convert("1"), "PNG"),
        "png palette": encode(p, "PNG"),
        "png palette transparent": encode(p_transparent, "PNG"),
        "png rgba": encode(with_alpha(rgb), "PNG"),
        "png la": encode(with_alpha(gray).convert("LA"), "PNG"),
        "png 16-bit gray": encode(sixteen_bit(rgb), "PNG"),
        "apng": animated("PNG"),
        "gif": encode(p, "GIF"),
        "gif animated": animated("GIF"),
        "gif transparent": encode(p_transparent, "GIF"),
        "webp lossy": encode(rgb, "WEBP", quality=80),
        "webp lossless": encode(rgb, "WEBP", lossless=True),
        "webp alpha": encode(with_alpha(rgb), "WEBP"),
        "webp animated": animated("WEBP"),
        "bmp": encode(rgb, "BMP"),
        "bmp palette": encode(p, "BMP"),
        "bmp 1-bit": encode(rgb.convert("1"), "BMP"),
        "dib": encode(rgb, "DIB"),
        "ico": encode(rgb, "ICO"),
        "icns": encode(rgb.resize((64, 64)), "ICNS"),
        "tiff": encode(rgb, "TIFF"),
        "tiff gray": encode(gray, "TIFF"),
        "tiff cmyk": encode(rgb.convert("CMYK"), "TIFF"),
        "tiff rgba": encode(with_alpha(rgb), "TIFF"),
        "tiff 1-bit": encode(rgb.convert("1"), "TIFF"),
        "tiff palette": encode(p, "TIFF"),
        "tiff 16-bit": encode(sixteen_bit(rgb), "TIFF"),
        "tiff 32-bit int": encode(sixteen_bit(rgb).convert("I"), "TIFF"),
        "tiff float": encode(rgb.convert("F"), "TIFF"),
        "tiff lab": encode(lab(rgb), "TIFF"),
        "tiff ycbcr": encode(rgb.convert("YCbCr"), "TIFF"),
        "ppm": encode(rgb, "PPM"),
        "pgm": encode(gray, "PPM"),
        "pbm": encode(rgb.convert("1"), "PPM"),
        "pgm 16-bit": encode(sixteen_bit(rgb), "PPM"),
        "pfm": encode(rgb.convert("F"), "PPM"),
        "pcx": encode(rgb, "PCX"),
        "tga": encode(rgb, "TGA"),
        "tga rle": encode(rgb, "TGA", compression="tga_rle"),
        "sgi": encode(rgb, "SGI"),
        "im": encode(rgb, "IM"),
        "msp": encode(rgb.convert("1"), "MSP"),
        "spider": encode(gray.convert("F"), "SPIDER"),
        "xbm": encode(rgb.convert("1"), "XBM"),
        "qoi": encode(rgb, "QOI"),
        "blp": encode(p, "BLP"),
        "dds": encode(with_alpha(rgb), "DDS"),
        "dds rgb": encode(rgb, "DDS"),
    }
    return {name: Case(data, 200) for name, data in files.items()}


def undecodable():
    """Formats this build knows but cannot decode: 415 naming them."""
    files = {
        "JPEG 2000": (encode(SMALL, "JPEG2000"), "JPEG2000"),
        "AVIF": (encode(SMALL, "AVIF"), "AVIF"),
        "TIFF LZW": (encode(SMALL, "TIFF", compression="tiff_lzw"), "tiff_lzw"),
        "TIFF deflate": (encode(SMALL, "TIFF", compression="tiff_adobe_deflate"), "TIFF"),
        "TIFF packbits": (encode(SMALL, "TIFF", compression="packbits"), "packbits"),
        "TIFF JPEG": (encode(SMALL, "TIFF", compression="jpeg"), "TIFF"),
        "TIFF group4": (encode(SMALL.convert("1"), "TIFF", compression="group4"), "group4"),
        "EPS": (encode(SMALL, "EPS"), "EPS"),
        "GRIB": (b"GRIB" + bytes([0, 0, 0, 1]) + bytes(100), "GRIB"),
        "BUFR": (b"BUFR" + bytes(100), "BUFR"),
        "HDF5": (b"\x89HDF\r\n\x1a\n" + bytes(100), "HDF5"),
        # A placeable WMF header (key, handle, bounding box, 72 units per inch, checksum).
        "WMF": (
            struct.pack("<IH4hHIH", 0x9AC6CDD7, 0, 0, 0, 720, 720, 72, 0, 0) + b"\x01\x00\x09\x00" + bytes(64),
            "WMF",
        ),
        "MPEG": (b"\x00\x00\x01\xb3\x14\x00\xf0\x00" + bytes(64), "MPEG"),
        "HEIC": (iso_bmff(b"heic", [b"mif1", b"heic"]), "HEIC"),
        "HEIF": (iso_bmff(b"mif1", [b"mif1"]), "HEIF"),
        "AVIF by its box alone": (iso_bmff(b"avif", [b"avif", b"mif1", b"miaf"]), "AVIF"),
        "JPEG XL codestream": (b"\xff\x0a\xfa\x7f\x01\x90\x08" + bytes(64), "JPEG XL"),
        "JPEG XL container": (b"\x00\x00\x00\x0cJXL \r\n\x87\n" + iso_bmff(b"jxl ", [b"jxl "]), "JPEG XL"),
        "JPEG XR": (b"II\xbc\x01" + bytes(64), "JPEG XR"),
        "OpenEXR": (b"v/1\x01" + bytes(64), "OpenEXR"),
        "SVG": (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>', "SVG"),
    }
    return {name: Case(data, 415, says) for name, (data, says) in files.items()}


def iso_bmff(major, compatible):
    """An ISO base media file: an `ftyp` box with these brands, then an empty `meta` box."""
    ftyp = b"ftyp" + major + b"\0\0\0\0" + b"".join(compatible)
    return struct.pack(">I", 4 + len(ftyp)) + ftyp + struct.pack(">I", 8) + b"meta"


def png_chunk(kind, payload):
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_of(width, height, mode_byte=0, depth=8, idat=None):
    """A PNG declaring width x height (colour type `mode_byte`), with `idat` as its data."""
    ihdr = struct.pack(">IIBBBBB", width, height, depth, mode_byte, 0, 0, 0)
    idat = zlib.compress(bytes(65536), 9) if idat is None else idat
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def tiff_with_strip_offset(offset):
    """A valid uncompressed TIFF whose StripOffsets is rewritten to `offset`."""
    data = bytearray(encode(SMALL, "TIFF"))
    image = Image.open(io.BytesIO(bytes(data)))
    stored = image.tag_v2[273][0]
    at = data.find(struct.pack("<I", stored), 8)
    data[at : at + 4] = struct.pack("<I", offset)
    return bytes(data)


def crafted():
    """Headers that lie: sizes and offsets over 2**31, unknown pixel formats, no pixels."""
    dds = bytearray(encode(SMALL, "DDS"))
    struct.pack_into("<II", dds, 76 + 4, 0x4, 0x31545845)  # pixel format flags FOURCC, fourcc "EXT1"
    bmp = encode(SMALL, "BMP")
    icns_huge = b"icns" + struct.pack(">I", 32) + b"ic08" + struct.pack(">I", 0xF0000000) + bytes(16)
    psd_huge = b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, 64, 96, 8, 3) + struct.pack(">I", 0xF0000000) + bytes(32)
    return {
        "dds unknown fourcc": Case(bytes(dds), 400),
        "icns entry of 4 GB": Case(icns_huge, 400),
        "psd colour data of 4 GB": Case(psd_huge, 400),
        "tiff strip at 4 GB": Case(tiff_with_strip_offset(0xF0000000), 400),
        "tiff strip at 2 GB": Case(tiff_with_strip_offset(0x80000000), 400),
        "png 0 wide": Case(png_of(0, 64), 400),
        "png 60000x60000 (bomb)": Case(png_of(60000, 60000, 2), 422, "limit"),
        "png 8000x8000": Case(png_of(8000, 8000), 422, "limit"),
        "png 4 Gpx claimed by a 1-bit header": Case(png_of(65536, 65536, 0, 1), 422, "limit"),
        "gif 0x0 screen": Case(b"GIF89a" + bytes(7) + b",\0\0\0\0\0\0\0\0\0\x02\x02D\x01\0;", 400),
        "bmp height -2**31": Case(bmp[:22] + struct.pack("<i", -(2**31)) + bmp[26:], 422),
    }


def extreme_sizes():
    """Aspect ratios far past any photo's, and the largest images under the pixel limit."""
    side = 6300  # 39.7 Mpx, just under the 40 Mpx limit
    ramp = np.add.outer(np.arange(side) % 256, np.arange(side) // 25 % 256).astype(np.uint8)
    rgba = Image.fromarray(np.stack([ramp, ramp.T, ramp ^ 0x5A, ramp | 0x80], axis=-1))
    wide16 = Image.fromarray((np.add.outer(np.arange(side), np.arange(side)) * 5).astype(np.uint16))
    files = {
        "1x3000 png": encode(Image.new("L", (1, 3000), 90), "PNG"),
        "3000x1 png": encode(Image.new("RGB", (3000, 1), (200, 30, 30)), "PNG"),
        "2x100000 png": encode(Image.new("L", (2, 100000), 40), "PNG"),
        "100000x2 png": encode(Image.new("RGB", (100000, 2), (10, 200, 10)), "PNG"),
        "1x1 gif": encode(Image.new("P", (1, 1)), "GIF"),
        "1x40000000 png": encode(Image.new("L", (1, 40_000_000), 128), "PNG", compress_level=9),
        "6300x6300 rgba png": encode(rgba, "PNG", compress_level=9),
        "6300x6300 16-bit gray png": encode(wide16, "PNG", compress_level=9),
    }
    return {name: Case(data, 200) for name, data in files.items()}


@functools.cache
def build():
    corpus = {}
    for group in (written, undecodable, crafted, extreme_sizes):
        corpus.update(group())
    return corpus


# --- seeded mutants --------------------------------------------------------------------------
def fuzz_seeds():
    tiny = SMALL.resize((48, 32))
    return {
        "jpeg": encode(tiny, quality=85),
        "progressive jpeg": encode(tiny, progressive=True),
        "png": encode(tiny, "PNG"),
        "gif": encode(tiny.convert("P", palette=Image.ADAPTIVE), "GIF"),
        "tiff": encode(tiny, "TIFF"),
        "bmp": encode(tiny, "BMP"),
        "webp": encode(tiny, "WEBP", quality=80),
        "webp lossless": encode(with_alpha(tiny), "WEBP", lossless=True),
    }


def structure_offsets(fmt, data):
    """Offsets of length and size fields: PNG chunk lengths and IHDR, JPEG segment lengths
    and SOF dimensions, RIFF chunk sizes and VP8/VP8L/VP8X sizes, GIF and BMP sizes, TIFF
    entries' counts and values."""
    offsets = []
    if fmt == "png":
        at = 8
        while at + 8 <= len(data):
            offsets.append(at)
            at += 12 + int.from_bytes(data[at : at + 4], "big")
        offsets += [16, 20]  # IHDR width, height
    elif "jpeg" in fmt:
        offsets += [i + 2 for i in range(len(data) - 1) if data[i] == 0xFF and 0xC0 <= data[i + 1] <= 0xFE]
        offsets += [i + 5 for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] in (0xC0, 0xC2)]
    elif "webp" in fmt:
        offsets += [4, 16, 20, 24, 26, 28]
    elif fmt == "gif":
        offsets += [6, 8, 13 + 3 * 256 - 2, 10]
    elif fmt == "bmp":
        offsets += [2, 10, 14, 18, 22, 28, 34]
    elif fmt == "tiff":
        ifd = int.from_bytes(data[4:8], "little")
        count = int.from_bytes(data[ifd : ifd + 2], "little") if ifd + 2 <= len(data) else 0
        offsets += [ifd + 2 + 12 * i + k for i in range(count) for k in (4, 8)]
    return [o for o in offsets if 0 <= o < len(data) - 1]


def mutate(fmt, data, rng):
    data = bytearray(data)
    kind = rng.choice(["bit flips", "byte run", "truncation", "length field", "length field", "bit flips"])
    if kind == "bit flips":
        for _ in range(rng.randint(1, 8)):
            at = rng.randrange(len(data))
            data[at] ^= 1 << rng.randrange(8)
    elif kind == "byte run":
        at = rng.randrange(len(data))
        data[at : at + rng.randint(1, 64)] = bytes([rng.choice([0, 0xFF, rng.randrange(256)])]) * rng.randint(1, 64)
    elif kind == "truncation":
        data = data[: rng.randrange(1, len(data))]
    else:
        offsets = structure_offsets(fmt, data) or [rng.randrange(len(data) - 1)]
        at = rng.choice(offsets)
        value = rng.choice([0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0xFFFF, rng.randrange(1 << 16)])
        data[at : at + 2] = value.to_bytes(2, rng.choice(["big", "little"]))
    if fmt == "png" and rng.random() < 0.5:
        fix_png_crcs(data)  # so that the damage reaches zlib and the decoder
    return kind, bytes(data)


def fix_png_crcs(data):
    """Rewrites the CRC of every chunk whose declared length still fits in the data."""
    at = 8
    while at + 12 <= len(data):
        length = int.from_bytes(data[at : at + 4], "big")
        end = at + 8 + length
        if end + 4 > len(data):
            break
        data[end : end + 4] = struct.pack(">I", zlib.crc32(data[at + 4 : end]))
        at = end + 4


def mutants(count, seed=8):
    """`count` (name, bytes) mutants, spread over the seed formats, reproducible from `seed`."""
    rng = random.Random(seed)
    seeds = fuzz_seeds()
    out = []
    for i in range(count):
        fmt = list(seeds)[i % len(seeds)]
        kind, data = mutate(fmt, seeds[fmt], rng)
        out.append((f"{i:03d} {fmt} {kind}", data))
    return out
