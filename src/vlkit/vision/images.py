"""Image decoding with errors that name the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from vlkit.core.errors import VlkitError


def load_rgb(path: str | Path, size: int | None = None) -> np.ndarray:
    """Decode an image file to RGB uint8 (H, W, 3), optionally resized to (size, size) bilinearly.

    Missing, unreadable and corrupt files raise `VlkitError` naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise VlkitError(f"image file not found: {path}")
    try:
        with Image.open(path) as image:
            image = image.convert("RGB")
            if size is not None and image.size != (size, size):
                image = image.resize((size, size), Image.BILINEAR)
            return np.asarray(image, dtype=np.uint8).copy()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise VlkitError(f"cannot decode image {path}: {error}") from error


def enlarged(image: np.ndarray, min_side: int) -> np.ndarray:
    """`image` (H, W, C) uint8 enlarged by the smallest whole factor (nearest neighbour, so pixels stay sharp)
    that brings its shorter side to at least `min_side`; as it is when it is already that large."""
    height, width = image.shape[:2]
    factor = max(1, -(-min_side // min(height, width)))
    if factor == 1:
        return image
    return np.asarray(Image.fromarray(image).resize((width * factor, height * factor), Image.NEAREST))
