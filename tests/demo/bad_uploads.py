"""Files a careless or hostile demo visitor uploads: text named as media, truncated images, huge images, videos
without frames."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
from PIL import Image


def text_file(path: Path) -> Path:
    """A text file with an image or video suffix."""
    path.write_text("this is a shopping list, not a picture\n" * 20)
    return path


def truncated_png(path: Path, side: int = 64) -> Path:
    """A real PNG with its second half cut off: the header reads, the pixels do not decode."""
    pixels = np.random.default_rng(0).integers(0, 256, (side, side, 3), dtype=np.uint8)  # noise: little compression
    Image.fromarray(pixels).save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def wide_png(path: Path, width: int, height: int) -> Path:
    """A valid single-colour PNG of width x height (small on disk, many pixels)."""
    Image.new("RGB", (width, height), (200, 30, 30)).save(path)
    return path


def frameless_video(path: Path) -> Path:
    """An AVI with a video stream and no frame in it."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width = stream.height = 32
        container.start_encoding()
    return path
