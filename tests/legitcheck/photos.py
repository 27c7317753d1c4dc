"""Real photographs for the tests: scikit-image's bundled samples, as JPEG bytes, and the tricks a
thief plays on them (rotate, mirror, crop, shrink, recompress)."""

from __future__ import annotations

import io
from functools import cache

import numpy as np
import skimage.data
from PIL import Image, ImageOps

SAMPLES = ("astronaut", "coffee", "chelsea", "rocket", "camera", "immunohistochemistry", "coins", "clock")


@cache
def sample(name: str) -> Image.Image:
    pixels = np.asarray(getattr(skimage.data, name)())
    return Image.fromarray(pixels).convert("RGB")


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def photo_set(*names: str) -> list[tuple[str, bytes]]:
    """One attachment per sample, as a member would send them."""
    return [(f"{name}.jpg", jpeg(sample(name))) for name in names]


def stolen(name: str) -> bytes:
    """The sample cropped by 6%, turned a quarter, mirrored, shrunk and saved again at low quality."""
    image = sample(name)
    width, height = image.size
    cropped = image.crop((int(width * 0.04), int(height * 0.02), width, height - int(height * 0.02)))
    turned = ImageOps.mirror(cropped.transpose(Image.Transpose.ROTATE_90))
    return jpeg(turned.resize((turned.width * 2 // 3, turned.height * 2 // 3)), quality=60)


def animated_png() -> bytes:
    frames = [Image.new("RGB", (32, 32), colour) for colour in ("red", "blue")]
    out = io.BytesIO()
    frames[0].save(out, "PNG", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return out.getvalue()


def truncated_jpeg() -> bytes:
    """A JPEG cut off after its header: it sniffs as a JPEG and fails to decode."""
    return jpeg(sample("camera"))[:600]
