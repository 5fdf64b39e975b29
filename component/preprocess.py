"""bytes -> RGB image -> input tensor, with Pillow, as the model was trained to see images.

The default convention is torchvision's ImageNet one: honour EXIF orientation, resize the
shorter side to 256 with bicubic (Catmull-Rom, a = -0.5) filtering, center-crop 224, scale to
[0, 1], subtract the mean and divide by the std per channel, NCHW layout.

Any bytes: whatever Pillow raises while it reads them (OSError, but also OverflowError from
32-bit sizes on wasm32, NotImplementedError from plugins, ...) is the image's fault, never a
500: 400 not an image, 415 a known format this build cannot decode (formats.py), 422 over the
pixel limit or needing more memory than the instance has.

Memory is bounded by design: at most the max_pixels setting's pixels of at most 4 bytes (Pillow's
widest modes), so the decoded image is <= 160 MB; the conversion to RGB makes one RGB copy
(none for RGB), band by band, so a mode's own conversion (alpha over white, 16-bit samples,
L*a*b*) never holds more than a band of temporaries. The resize does exactly what torchvision
does (the whole image resized, then cropped) unless a resized side would exceed
MAX_RESIZED_SIDE (aspect ratios beyond 16:1): then only the span under the crop is resampled,
and only the region around it is converted to RGB.
"""

import io
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
from PIL import ExifTags, Image, UnidentifiedImageError

import colors
import formats
from errors import BadImage, ImageTooLarge, UnsupportedFormat
from settings import DEFAULTS

# Modes holding more than 8 bits per sample, scaled to 8 bits by their full (16-bit) range.
WIDE_MODES = {"I;16", "I;16L", "I;16B", "I;16N", "I"}
ALPHA_MODES = {"RGBA", "LA", "PA"}
WHITE = (255, 255, 255, 255)
# Pillow's BICUBIC is Catmull-Rom (a = -0.5), as torchvision's bicubic on PIL images.
FILTERS = {"bicubic": Image.BICUBIC, "bilinear": Image.BILINEAR}
TRANSPOSES = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
BAND_PIXELS = 1 << 20  # converted to RGB at a time
# A resized side up to this is made whole and then cropped (torchvision's way, 4 MB at most
# in RGB); a longer one is resampled only where the crop falls.
MAX_RESIZED_SIDE = 4096
MAX_MESSAGE = 200  # characters of a decoder's message quoted in an error


@dataclass(frozen=True)
class Preprocessing:
    input_size: int = 224
    resize: int = 256
    mean: tuple = (0.485, 0.456, 0.406)
    std: tuple = (0.229, 0.224, 0.225)
    interpolation: str = "bicubic"
    # (x / 255 - mean) / std as one multiply-add, per channel: made once, when the model loads
    # (so an embedded model's is in the build-time snapshot).
    scale: np.ndarray = field(init=False, repr=False, compare=False)
    offset: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        if self.interpolation not in FILTERS:
            raise ValueError(f"interpolation {self.interpolation!r}: use one of {', '.join(FILTERS)}")
        sizes = (self.input_size, self.resize)
        if not (all(isinstance(n, int) for n in sizes) and 0 < self.input_size <= self.resize):
            raise ValueError(
                f"input_size {self.input_size!r} and resize {self.resize!r}: "
                "need integers with 0 < input_size <= resize"
            )
        std = np.asarray(self.std, np.float64)
        mean = np.asarray(self.mean, np.float64)
        if std.shape != (3,) or mean.shape != (3,) or not (std > 0).all():
            raise ValueError(f"mean {self.mean!r} and std {self.std!r}: need 3 values each, std > 0")
        object.__setattr__(self, "scale", (1 / (255 * std)).astype(np.float32))
        object.__setattr__(self, "offset", (-mean / std).astype(np.float32))

    @classmethod
    def from_settings(cls, settings):
        """Takes the known keys of a model's sidecar JSON; the rest keep their defaults."""
        known = {
            k: tuple(v) if isinstance(v, list) else v
            for k, v in settings.items()
            if k in cls.__dataclass_fields__ and cls.__dataclass_fields__[k].init
        }
        return cls(**known)

    def settings(self):
        """The sidecar keys and their values (what GET /model shows)."""
        return {k: getattr(self, k) for k, f in self.__dataclass_fields__.items() if f.init}


@contextmanager
def reading(image, doing):
    """Pillow at work on untrusted bytes: anything it raises becomes the image's error."""
    try:
        yield
    except (BadImage, ImageTooLarge):
        raise
    except Image.DecompressionBombError as e:
        raise ImageTooLarge(str(e)) from None
    except MemoryError:
        raise ImageTooLarge("this image needs more memory to decode than this instance has") from None
    except Exception as e:
        if image is not None:
            formats.refuse_missing_decoder(image, e)
        message = str(e) or type(e).__name__
        raise BadImage(f"{doing}: {message[:MAX_MESSAGE]}") from None


def open_image(data, max_pixels=DEFAULTS.max_pixels):
    """Reads only the header and refuses what cannot be decoded: a not yet decoded image."""
    with reading(None, "damaged image header"):
        try:
            image = Image.open(io.BytesIO(data))
        except UnidentifiedImageError:
            formats.refuse_unidentified(data)
            raise BadImage("not an image (no decoder recognises these bytes)") from None
    formats.refuse_undecodable(image)
    width, height = image.size
    if width * height > max_pixels:
        raise ImageTooLarge(
            f"image is {width}x{height} = {width * height / 1e6:.0f} Mpx; the limit is {max_pixels / 1e6:.0f} Mpx"
        )
    if width < 1 or height < 1:
        raise BadImage(f"the image is {width}x{height}: it has no pixels")
    return image


def decode(image, min_size):
    """Decodes the pixels, at least `min_size` (w, h) of them."""
    with reading(image, f"cannot decode {image.format} image"):
        # A JPEG much larger than needed is decoded by libjpeg at 1/2, 1/4 or 1/8 scale: the
        # same picture after the resize, for a fraction of the work (a no-op for other formats).
        image.draft("RGB", min_size)
        image.load()
    return image


def upright(image):
    """The image as viewers show it, by its EXIF orientation (unreadable EXIF: as stored)."""
    try:
        method = TRANSPOSES.get(image.getexif().get(ExifTags.Base.Orientation, 1))
    except Exception:  # broken metadata does not make a broken picture
        method = None
    return image.transpose(method) if method is not None else image


def rgb_converter(image):
    """A function taking a band (a crop) of `image` to RGB, pixel by pixel."""
    if image.mode in WIDE_MODES:
        return lambda band: Image.fromarray(colors.wide_to_8bit(np.asarray(band))).convert("RGB")
    if image.mode == "LAB":  # Pillow would need ImageCms (LittleCMS), not in this build
        return lambda band: Image.fromarray(colors.lab_to_rgb(np.asarray(band)))
    if image.mode in ALPHA_MODES or (image.mode == "P" and "transparency" in image.info):
        return lambda band: Image.alpha_composite(Image.new("RGBA", band.size, WHITE), band.convert("RGBA")).convert(
            "RGB"
        )
    return lambda band: band.convert("RGB")


def to_rgb(image):
    """RGB, transparency over white, wide samples to 8 bits: band by band into one image."""
    if image.mode == "RGB":
        return image
    convert = rgb_converter(image)
    width, height = image.size
    rows = max(1, BAND_PIXELS // width)
    try:
        if rows >= height:
            return convert(image)
        rgb = Image.new("RGB", image.size)
        for top in range(0, height, rows):
            rgb.paste(convert(image.crop((0, top, width, min(height, top + rows)))), (0, top))
        return rgb
    except ValueError as e:  # a mode Pillow cannot convert
        raise UnsupportedFormat(f"images in mode {image.mode} cannot be converted to RGB: {e}") from None


@dataclass(frozen=True)
class Axis:
    """How one axis is resized and cropped."""

    region: tuple  # (start, end): the input pixels to keep (all of them unless `box` needs few)
    box: tuple  # (start, end) within the region: the span Pillow resamples to `length`
    length: int
    crop: int  # where the crop starts in the resampled `length`


def plan_axis(length, resized, crop):
    """Torchvision's resize to `resized` then the central `crop`, without resampling more than
    MAX_RESIZED_SIDE: beyond it, only the span under the crop is resampled, from a region
    that keeps just the filter's reach around it."""
    start = int(round((resized - crop) / 2))
    if resized <= MAX_RESIZED_SIDE:
        return Axis((0, length), (0, length), resized, start)
    span = (start * length / resized, min(length, (start + crop) * length / resized))
    reach = 2 * max(1.0, (span[1] - span[0]) / crop) + 2  # bicubic support, widened when reducing
    region = (max(0, int(span[0] - reach)), min(length, int(span[1] + reach) + 1))
    return Axis(region, (span[0] - region[0], span[1] - region[0]), crop, 0)


def plan_resize(size, prep):
    """(x Axis, y Axis) for an image of `size`: shorter side to prep.resize, central square."""
    scale = prep.resize / min(size)
    return [plan_axis(n, max(prep.resize, int(n * scale)), prep.input_size) for n in size]


def region(image, plan):
    """The part of the image that the plan resamples (the image itself when that is all of it)."""
    x, y = plan
    if x.region == (0, image.width) and y.region == (0, image.height):
        return image
    return image.crop((x.region[0], y.region[0], x.region[1], y.region[1]))


def resize_and_crop(rgb, plan, prep):
    """The region, in RGB, resampled and cropped to prep.input_size square."""
    x, y = plan
    box = (x.box[0], y.box[0], x.box[1], y.box[1])
    resized = rgb.resize((x.length, y.length), FILTERS[prep.interpolation], box=box)
    return resized.crop((x.crop, y.crop, x.crop + prep.input_size, y.crop + prep.input_size))


def to_tensor(image, prep):
    """RGB image (S, S) -> float32 (1, 3, S, S), normalized per channel."""
    pixels = np.asarray(image, dtype=np.float32) * prep.scale + prep.offset  # (S, S, 3)
    return np.ascontiguousarray(pixels.transpose(2, 0, 1)[np.newaxis])  # (1, 3, S, S)


def to_model_image(data, prep, max_pixels=DEFAULTS.max_pixels):
    """Encoded image bytes -> the RGB (S, S) image the model sees."""
    image = open_image(data, max_pixels)
    scale = prep.resize / min(image.size)
    image = decode(image, (int(image.size[0] * scale), int(image.size[1] * scale)))
    with reading(image, f"cannot convert {image.format} image"):
        image = upright(image)
        plan = plan_resize(image.size, prep)
        rgb = to_rgb(region(image, plan))
    return resize_and_crop(rgb, plan, prep)


def preprocess(data, prep, max_pixels=DEFAULTS.max_pixels):
    """Encoded image bytes -> model input (1, 3, S, S) float32."""
    return to_tensor(to_model_image(data, prep, max_pixels), prep)
