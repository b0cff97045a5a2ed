"""A user's own digit (an upload of any size, or a drawing) turned into an MNIST-like 28x28.

MNIST's recipe: white digit on black; the digit's bounding box scaled into 20x20 keeping
its aspect ratio (anti-aliased), then placed so its centre of mass sits at the centre of
the 28x28 field. A model trained on MNIST only recognises digits prepared this way.
"""
from __future__ import annotations

import base64
import binascii
import io
import warnings

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

# A 5000x5000 photo. Larger is refused from the header, before any pixel is decoded: a tiny
# compressed file can claim gigapixels (a "decompression bomb") and exhaust memory.
MAX_PIXELS = 25_000_000
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")
FIELD, BOX = 28, 20  # MNIST: a 20x20 digit box inside a 28x28 field
CENTRE = 14.0  # where MNIST digits' centre of mass sits (row, column), measured on the embedded set
MIN_CONTRAST = 40  # of 255: less between ink and background is a blank page (or noise), not a digit
INK = 0.2  # of the darkest-to-lightest range: fainter pixels do not count towards the bounding box


def open_image(data: bytes, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Decode an uploaded file into a grayscale image, refusing non-images and oversized ones."""
    try:
        with warnings.catch_warnings():  # our own cap below is stricter than PIL's warning
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))  # reads the header only
    except Image.DecompressionBombError:
        raise ValueError(f"The image claims more than {2 * Image.MAX_IMAGE_PIXELS / 1e6:.0f} megapixels (a "
                         "decompression bomb?) and was not opened. Shrink or crop it: a digit needs only 28x28."
                         ) from None
    except (UnidentifiedImageError, OSError):
        raise ValueError("That file is not an image: upload a PNG or JPEG of a digit.") from None
    width, height = image.size
    if width * height > max_pixels:
        raise ValueError(f"The image is {width:,}x{height:,} pixels ({width * height / 1e6:.0f} megapixels), more than "
                         f"the {max_pixels / 1e6:.0f} allowed. Shrink or crop it: a digit needs only 28x28.")
    if image.format not in FORMATS:
        raise ValueError(f"{image.format} images are not supported: upload a PNG or JPEG.")
    try:
        image.load()
    except (OSError, SyntaxError, ValueError) as exc:
        raise ValueError(f"The image could not be decoded (damaged or truncated file: {exc}).") from None
    return flatten(image)


def flatten(image: Image.Image) -> Image.Image:
    """Grayscale ("L"); transparent areas become white paper, as a transparent PNG looks on screen."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(paper, rgba)
    return image.convert("L")


def to_mnist(image: Image.Image) -> torch.Tensor:
    """Grayscale image of any size -> uint8 (28, 28), white digit on black, centred like MNIST."""
    ink = ink_fraction(np.asarray(image.convert("L"), dtype=np.float32))
    rows, cols = np.nonzero(ink > INK)
    crop = ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1]  # the digit's bounding box
    scale = BOX / max(crop.shape)
    height, width = max(1, round(crop.shape[0] * scale)), max(1, round(crop.shape[1] * scale))
    resized = Image.fromarray(np.uint8(crop * 255 + 0.5)).resize((width, height), Image.Resampling.BILINEAR)
    field = np.zeros((FIELD, FIELD), dtype=np.float32)
    top, left = (FIELD - height) // 2, (FIELD - width) // 2
    field[top:top + height, left:left + width] = np.asarray(resized, dtype=np.float32)
    field *= 255.0 / field.max()  # shrinking greys thin strokes; MNIST's strongest ink is full white
    return torch.from_numpy(np.uint8(centre_of_mass_shift(field, top, left, height, width).clip(0, 255).round()))


def ink_fraction(pixels: np.ndarray) -> np.ndarray:
    """float (H, W) 0..255 -> ink on [0, 1], background 0; dark-on-light input is inverted."""
    background = float(np.median(pixels))  # a digit covers a minority of its picture
    if background > 127:  # dark ink on light paper: make it MNIST's light ink on black
        pixels, background = 255.0 - pixels, 255.0 - background
    ink = np.clip(pixels - background, 0.0, None)
    if ink.max() < MIN_CONTRAST:
        raise ValueError("No digit found: the image is blank (one flat shade). Draw or upload a digit, "
                         "dark on light or light on dark.")
    ink /= ink.max()
    return np.where(ink < INK / 2, 0.0, ink)  # paper grain and JPEG noise to pure black


def centre_of_mass_shift(field: np.ndarray, top: int, left: int, height: int, width: int) -> np.ndarray:
    """Shift ``field`` (28, 28) by whole pixels so its centre of mass is at (14, 14).

    The shift is limited so the digit's box (top, left, height, width) stays inside the field.
    """
    rows, cols = np.arange(FIELD, dtype=np.float32), np.arange(FIELD, dtype=np.float32)
    mass = field.sum()
    dy = int(round(CENTRE - float((field.sum(axis=1) * rows).sum() / mass)))
    dx = int(round(CENTRE - float((field.sum(axis=0) * cols).sum() / mass)))
    dy = min(max(dy, -top), FIELD - top - height)
    dx = min(max(dx, -left), FIELD - left - width)
    shifted = np.zeros_like(field)
    shifted[top + dy:top + dy + height, left + dx:left + dx + width] = field[top:top + height, left:left + width]
    return shifted


def prepare_digit(data: bytes, max_pixels: int = MAX_PIXELS) -> torch.Tensor:
    """An uploaded or drawn image file -> uint8 (28, 28) ready for a Digit Lab model."""
    return to_mnist(open_image(data, max_pixels))


def decode_data_url(url: str) -> bytes:
    """The bytes of a ``data:image/png;base64,...`` URL (what a browser canvas exports)."""
    header, _, payload = url.partition(",")
    if not header.startswith("data:image/") or not header.endswith(";base64"):
        raise ValueError("The drawing did not arrive as an image: draw again or upload a file instead.")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("The drawing arrived damaged: draw again or upload a file instead.") from None
