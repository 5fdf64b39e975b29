"""Real photographs from scikit-image, encoded as a client would send them, and their classes."""

import io

from PIL import Image
from skimage import data

# ImageNet-1k indices: 281 tabby, 282 tiger cat, 283 Persian, 284 Siamese, 285 Egyptian cat.
CAT_CLASSES = {281, 282, 283, 284, 285}
ESPRESSO = 967


def encode(image, fmt="JPEG", **options):
    buf = io.BytesIO()
    image.save(buf, fmt, **options)
    return buf.getvalue()


CHELSEA = Image.fromarray(data.chelsea())
COFFEE = Image.fromarray(data.coffee())
CHELSEA_JPEG = encode(CHELSEA, quality=90)
COFFEE_JPEG = encode(COFFEE, quality=90)
# More photographs for batches (no single expected class): a portrait and a rocket on its pad.
ASTRONAUT_JPEG = encode(Image.fromarray(data.astronaut()), quality=90)
ROCKET_JPEG = encode(Image.fromarray(data.rocket()), quality=90)
