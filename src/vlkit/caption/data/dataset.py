"""The captioning dataset over prepared data (vlkit's prepared folder or the tutorial's HDF5 + JSON files).

Items follow the tutorial's CaptionDataset (sgrvinod/a-PyTorch-Tutorial-to-Image-Captioning
`datasets.py`): one item per caption, item i being caption i % C of image i // C (C captions per
image). A training item is (image, caption, length); a val or test item adds all C captions of the
image, which the tutorial uses as the references of BLEU-4 during validation. Departures: the image
is the stored uint8 (3, S, S) tensor (the tutorial divides by 255 into float; normalise in the
model or a transform), and the length is a 0-d tensor (the tutorial's is shape (1,)).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

import torch
from torch.utils.data import Dataset

from vlkit.caption.data.prepared import MANIFEST, read_prepared
from vlkit.caption.data.split_data import SplitData
from vlkit.caption.data.tutorial_files import read_tutorial

TRAINING_SPLITS = ("train", "restval")


class CaptionDataset(Dataset):
    """Items of one split: (image (3, S, S) uint8, caption (T,) int64, length () int64[, all captions (C, T)
    int64 outside training]); T = max_len + 2."""

    def __init__(self, data: SplitData, split: str, transform: Optional[Callable[[torch.Tensor], torch.Tensor]] = None):
        self.data = data
        self.split = split.lower()
        self.training = self.split in TRAINING_SPLITS
        self.transform = transform
        self.per_image = data.captions_per_image

    def __len__(self) -> int:
        return len(self.data.rows) * self.per_image

    def image_row(self, index: int) -> int:
        """The image row of item `index` (rows of images skipped as unreadable are never used)."""
        return int(self.data.rows[index // self.per_image])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, ...]:
        if not 0 <= index < len(self):
            raise IndexError(f"item {index} of {len(self)}")
        row = self.image_row(index)
        image = torch.from_numpy(self.data.images[row])
        if self.transform is not None:
            image = self.transform(image)
        column = index % self.per_image
        caption = torch.tensor(self.data.captions[row, column], dtype=torch.long)
        length = torch.tensor(self.data.lengths[row, column], dtype=torch.long)
        if self.training:
            return image, caption, length
        return image, caption, length, torch.tensor(self.data.captions[row], dtype=torch.long)


def open_caption_split(directory: str | Path, split: str, base: Optional[str] = None,
                       transform: Optional[Callable[[torch.Tensor], torch.Tensor]] = None) -> CaptionDataset:
    """The dataset of one split of a vlkit prepared folder (it has a manifest.json) or of the tutorial's files
    (`base` names them, e.g. coco_5_cap_per_img_5_min_word_freq; by default the one WORDMAP_<base>.json)."""
    directory = Path(directory)
    if (directory / MANIFEST).is_file():
        data = read_prepared(directory, split)
    else:
        data = read_tutorial(directory, split, base)
    return CaptionDataset(data, split, transform)
