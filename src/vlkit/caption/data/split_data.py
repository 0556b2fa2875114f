"""One prepared split as arrays, whichever files it came from (vlkit's prepared folder or the tutorial's)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Protocol

import numpy as np

from vlkit.caption.data.word_map import WordMap


class ImageRows(Protocol):
    """Images by row, opened lazily in the process that reads (so that it pickles to DataLoader workers)."""

    def __len__(self) -> int: ...

    def __getitem__(self, row: int) -> np.ndarray:
        """Image `row`: (3, S, S) uint8."""


@dataclass
class SplitData:
    """A prepared split: image row r has captions `captions[r]` (C, T) with lengths `lengths[r]` (C,).

    `rows` (M,) are the image rows that hold an image (a prepared folder leaves out images skipped as
    unreadable); `image_ids` (N,) and `references` (N lists of caption strings, every caption of the
    image, untruncated) are None for files that do not record them (the tutorial's).
    """

    images: ImageRows
    captions: np.ndarray  # (N, C, T) int64, T = max_len + 2
    lengths: np.ndarray  # (N, C) int64
    word_map: WordMap
    rows: np.ndarray  # (M,) int64
    image_ids: Optional[np.ndarray] = None  # (N,) int64
    references: Optional[list[list[str]]] = None

    @property
    def captions_per_image(self) -> int:
        return int(self.captions.shape[1])
