"""Captioning data: Karpathy split files, the word map, caption encoding, prepared data and its dataset.

`prepare_karpathy` turns a Karpathy file and its images into vlkit's prepared folder;
`open_caption_split` reads one split of it, or of the files of the PyTorch captioning tutorial
(sgrvinod), through one `CaptionDataset`.
"""

from vlkit.caption.data.dataset import CaptionDataset, open_caption_split
from vlkit.caption.data.karpathy import KarpathyDataset, KarpathyImage, read_karpathy
from vlkit.caption.data.prepare import prepare_karpathy
from vlkit.caption.data.word_map import WordMap, build_word_map

__all__ = ["CaptionDataset", "KarpathyDataset", "KarpathyImage", "WordMap", "build_word_map", "open_caption_split",
           "prepare_karpathy", "read_karpathy"]
