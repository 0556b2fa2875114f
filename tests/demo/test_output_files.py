"""The demo's output pictures: finished PNG files named by content, reused for the same picture, removed when old."""

from __future__ import annotations

import os
import time

import numpy as np
from PIL import Image

from vlkit.demo.output_files import OutputFiles


def test_a_picture_becomes_a_png_with_the_same_pixels_and_the_same_picture_reuses_its_file(tmp_path):
    files = OutputFiles(tmp_path / "out")
    picture = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    first, again = files.png(picture), files.png(picture.copy())
    assert first == again and first.endswith(".png")
    np.testing.assert_array_equal(np.asarray(Image.open(first)), picture)
    assert files.png(picture[::-1].copy()) != first
    assert sorted(p.suffix for p in (tmp_path / "out").iterdir()) == [".png", ".png"]  # no partial writes left


def test_pictures_unused_for_longer_than_the_keep_time_are_removed_on_the_next_write(tmp_path):
    files = OutputFiles(tmp_path / "out", keep_seconds=60)
    old = files.png(np.zeros((2, 2, 3), dtype=np.uint8))
    recent = files.png(np.ones((2, 2, 3), dtype=np.uint8))
    hour_ago = time.time() - 3600
    os.utime(old, (hour_ago, hour_ago))
    (tmp_path / "out" / ".writing-abandoned").write_bytes(b"half")
    os.utime(tmp_path / "out" / ".writing-abandoned", (hour_ago, hour_ago))
    newest = files.png(np.full((2, 2, 3), 9, dtype=np.uint8))
    assert sorted(str(p) for p in (tmp_path / "out").iterdir()) == sorted([recent, newest])
