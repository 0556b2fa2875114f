"""vlkit's prepared captioning data: one folder per (Karpathy file, settings), read by memory-mapping.

Layout (written by `prepare.prepare_karpathy`):
    manifest.json              format, dataset, source file and its SHA-256, settings, image_size, splits
                               {name: image count}, complete, skipped_ids, failed_ids, rows_done
    word_map.json              word -> index, the tutorial's WORDMAP layout (`word_map.WordMap`)
    <split>/ids.npy            (N,) int64 image ids (cocoid, or imgid for Flickr), in Karpathy file order
    <split>/captions.npy       (N, C, max_len + 2) int64 encoded captions (`encoding.encode_images`)
    <split>/lengths.npy        (N, C) int64 caption lengths (words + 2)
    <split>/references.json    N lists: every caption of the image (tokens joined by spaces, untruncated),
                               the references of evaluation
    <split>/images.npy         (N, 3, S, S) uint8, S = image_size (256 by default): channels first, as the
                               tutorial's HDF5 'images', so both formats give the same image tensors
    <split>/done.npy           (N,) bool: a row is marked done only after its image is flushed to disk

The splits are train, val and test, plus restval when it is kept apart. Images that could not be
read and were skipped (`skip_bad`) keep an unfilled row that is not done; readers leave them out.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import numpy as np

from vlkit.caption.data.split_data import SplitData
from vlkit.caption.data.word_map import WordMap
from vlkit.core.errors import VlkitError
from vlkit.core.files import read_folder_manifest

FORMAT = "vlkit-caption-prepared"
VERSION = 1
MANIFEST = "manifest.json"
WORD_MAP = "word_map.json"


class NpyImages:
    """The (N, 3, S, S) uint8 image array of a split, memory-mapped on first read in each process."""

    def __init__(self, path: Path, count: int):
        self.path = path
        self.count = count
        self._array: Optional[np.ndarray] = None

    def __getstate__(self) -> dict:
        return {"path": self.path, "count": self.count, "_array": None}

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, row: int) -> np.ndarray:
        """(3, S, S) uint8."""
        if self._array is None:
            self._array = np.load(self.path, mmap_mode="r")
        return np.array(self._array[row])


def read_prepared_manifest(directory: str | Path) -> dict:
    """The manifest of a vlkit prepared-captions folder."""
    path = Path(directory) / MANIFEST
    manifest = read_folder_manifest(directory, MANIFEST, "vlkit prepared captions folder", "vlkit caption prepare")
    if manifest.get("format") != FORMAT:
        raise VlkitError(f"{path} is not a vlkit prepared captions manifest (format {FORMAT!r})")
    return manifest


def read_prepared(directory: str | Path, split: str) -> SplitData:
    """One split of a complete prepared folder; its arrays memory-mapped."""
    directory = Path(directory)
    manifest = read_prepared_manifest(directory)
    if not manifest.get("complete"):
        failed = manifest.get("failed_ids", [])
        raise VlkitError(f"{directory} is not completely prepared ({manifest.get('rows_done', 0)} images done"
                         f"{f', images {failed[:10]} could not be read' if failed else ''}): rerun the preparation "
                         "to finish it (add skip_bad to leave unreadable images out)")
    splits = manifest["splits"]
    if split.lower() not in splits:
        raise VlkitError(f"{directory} has no split {split!r}; it has {', '.join(splits)}")
    folder = directory / split.lower()
    done = np.load(folder / "done.npy")
    references = json.loads((folder / "references.json").read_text(encoding="utf-8"))
    return SplitData(NpyImages(folder / "images.npy", len(done)), np.load(folder / "captions.npy", mmap_mode="r"),
                     np.load(folder / "lengths.npy"), WordMap.load(directory / WORD_MAP),
                     np.flatnonzero(done).astype(np.int64), np.load(folder / "ids.npy"), references)
