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
