"""bytes -> RGB image -> input tensor, with Pillow, as the model was trained to see images.

The default convention is torchvision's ImageNet one: honour EXIF orientation, resize the
shorter side to 256 with bicubic (Catmull-Rom, a = -0.5) filtering, center-crop 224, scale to
[0, 1], subtract the mean and divide by the std per channel, NCHW layout.
"""
import functools
import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from errors import BadImage, ImageTooLarge
from settings import MAX_PIXELS

# Modes holding more than 8 bits per sample, scaled to 8 bits by their full range.
WIDE_MODES = {"I;16": 65535, "I;16L": 65535, "I;16B": 65535, "I;16N": 65535, "I": 65535}
WHITE = (255, 255, 255, 255)
# Pillow's BICUBIC is Catmull-Rom (a = -0.5), as torchvision's bicubic on PIL images.
FILTERS = {"bicubic": Image.BICUBIC, "bilinear": Image.BILINEAR}


@dataclass(frozen=True)
class Preprocessing:
    input_size: int = 224
    resize: int = 256
    mean: tuple = (0.485, 0.456, 0.406)
    std: tuple = (0.229, 0.224, 0.225)
    interpolation: str = "bicubic"

    def __post_init__(self):
        if self.interpolation not in FILTERS:
            raise ValueError(f"interpolation {self.interpolation!r}: use one of {', '.join(FILTERS)}")

    @classmethod
    def from_settings(cls, settings):
        """Takes the known keys of a model's sidecar JSON; the rest keep their defaults."""
        known = {k: tuple(v) if isinstance(v, list) else v for k, v in settings.items()
                 if k in cls.__dataclass_fields__}
        return cls(**known)


def open_image(data, max_pixels=MAX_PIXELS):
    """Reads only the header and refuses oversized images: returns a not yet decoded image."""
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise BadImage("not an image (no decoder recognises these bytes)") from None
    except Image.DecompressionBombError as e:
        raise ImageTooLarge(str(e)) from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise BadImage(f"damaged image header: {e}") from None
    width, height = image.size
    if width * height > max_pixels:
        raise ImageTooLarge(f"image is {width}x{height} = {width * height / 1e6:.0f} Mpx; "
                            f"the limit is {max_pixels / 1e6:.0f} Mpx")
    return image


def decode(image, min_size):
    """Decodes the pixels, at least `min_size` (w, h) of them."""
    # A JPEG much larger than needed is decoded by libjpeg at 1/2, 1/4 or 1/8 scale: the same
    # picture after the resize, for a fraction of the work (a no-op for other formats).
    image.draft("RGB", min_size)
    try:
        image.load()
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise BadImage(f"cannot decode {image.format} image: {e}") from None
    return image


def to_rgb(image):
    """Upright RGB: EXIF orientation applied, transparency over white, wide samples to 8 bits."""
    ImageOps.exif_transpose(image, in_place=True)  # no copy when there is nothing to turn
    if image.mode in WIDE_MODES:
        wide = np.asarray(image, dtype=np.float32)  # (H, W)
        image = Image.fromarray(np.clip(wide * (255 / WIDE_MODES[image.mode]), 0, 255).astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        image = Image.alpha_composite(Image.new("RGBA", image.size, WHITE), image.convert("RGBA"))
    return image.convert("RGB")


def resize_and_crop(image, prep):
    """Shorter side to prep.resize, then the central prep.input_size square."""
    width, height = image.size
    scale = prep.resize / min(width, height)
    size = (max(prep.resize, int(width * scale)), max(prep.resize, int(height * scale)))
    image = image.resize(size, FILTERS[prep.interpolation])
    left = int(round((size[0] - prep.input_size) / 2))
    top = int(round((size[1] - prep.input_size) / 2))
    return image.crop((left, top, left + prep.input_size, top + prep.input_size))


@functools.lru_cache(maxsize=8)
def normalization(mean, std):
    """(x / 255 - mean) / std as one multiply-add: per-channel (scale, offset), made once per model."""
    std = np.asarray(std, np.float64)
    return (1 / (255 * std)).astype(np.float32), (-np.asarray(mean) / std).astype(np.float32)


def to_tensor(image, prep):
    """RGB image (S, S) -> float32 (1, 3, S, S), normalized per channel."""
    scale, offset = normalization(prep.mean, prep.std)  # (3,), (3,)
    pixels = np.asarray(image, dtype=np.float32) * scale + offset  # (S, S, 3)
    return np.ascontiguousarray(pixels.transpose(2, 0, 1)[np.newaxis])  # (1, 3, S, S)


def preprocess(data, prep, max_pixels=MAX_PIXELS):
    """Encoded image bytes -> model input (1, 3, S, S) float32."""
    image = open_image(data, max_pixels)
    scale = prep.resize / min(image.size)
    image = decode(image, (int(image.size[0] * scale), int(image.size[1] * scale)))
    return to_tensor(resize_and_crop(to_rgb(image), prep), prep)
