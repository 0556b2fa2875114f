"""Reader for the prepared files of sgrvinod/a-PyTorch-Tutorial-to-Image-Captioning, as its create_input_files
(`utils.py`) writes them and its CaptionDataset (`datasets.py`) reads them:

    {SPLIT}_IMAGES_{base}.hdf5     dataset 'images' (N, 3, 256, 256) uint8, attribute 'captions_per_image' = C
    {SPLIT}_CAPTIONS_{base}.json   N*C encoded captions, each max_len + 2 indices; caption k is of image k // C
    {SPLIT}_CAPLENS_{base}.json    N*C lengths (words + 2)
    WORDMAP_{base}.json            word -> index

SPLIT is TRAIN, VAL or TEST; base is `{dataset}_{C}_cap_per_img_{min_word_freq}_min_word_freq`.
Reading HDF5 needs h5py (`pip install h5py`, or the `tutorial` extra of vlkit).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any, Optional

import numpy as np

from vlkit.caption.data.split_data import SplitData
from vlkit.caption.data.word_map import WordMap
from vlkit.core.errors import VlkitError

TUTORIAL_SPLITS = ("TRAIN", "VAL", "TEST")


def tutorial_base_name(dataset: str, captions_per_image: int, min_word_freq: int) -> str:
    """The tutorial's base name, e.g. `coco_5_cap_per_img_5_min_word_freq`."""
    return f"{dataset}_{captions_per_image}_cap_per_img_{min_word_freq}_min_word_freq"


def tutorial_file(folder: str | Path, kind: str, split: str, base: str) -> Path:
    """`folder/{SPLIT}_{kind}_{base}.{hdf5|json}` for kind IMAGES, CAPTIONS or CAPLENS."""
    return Path(folder) / f"{split.upper()}_{kind}_{base}.{'hdf5' if kind == 'IMAGES' else 'json'}"


def import_h5py() -> ModuleType:
    """The h5py module, or an error saying how to install it."""
    try:
        import h5py
    except ImportError as error:
        raise VlkitError("reading the tutorial's HDF5 image files needs h5py: pip install h5py "
                         "(or pip install 'vlkit[tutorial]')") from error
    return h5py


class HDF5Images:
    """The 'images' dataset of a tutorial HDF5 file by row, opened on first read in each process."""

    def __init__(self, path: Path, count: int):
        self.path = path
        self.count = count
        self._images: Any = None

    def __getstate__(self) -> dict:
        return {"path": self.path, "count": self.count, "_images": None}

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, row: int) -> np.ndarray:
        """(3, S, S) uint8."""
        if self._images is None:
            self._images = import_h5py().File(self.path, "r")["images"]
        return np.asarray(self._images[row])


def find_base_name(folder: str | Path) -> str:
    """The base of the one `WORDMAP_{base}.json` in `folder`."""
    found = sorted(Path(folder).glob("WORDMAP_*.json"))
    if len(found) != 1:
        listed = ", ".join(path.name for path in found) or "none"
        raise VlkitError(f"{folder}: expected one tutorial WORDMAP_<base>.json to name the prepared files, found "
                         f"{listed}; name the base (e.g. coco_5_cap_per_img_5_min_word_freq)")
    return found[0].name.removeprefix("WORDMAP_").removesuffix(".json")


def read_tutorial(folder: str | Path, split: str, base: Optional[str] = None) -> SplitData:
    """One split of the tutorial's prepared files, checked against each other (counts, widths, word map)."""
    if split.upper() not in TUTORIAL_SPLITS:
        raise VlkitError(f"unknown split {split!r}: the tutorial's files have {', '.join(TUTORIAL_SPLITS)}")
    base = base or find_base_name(folder)
    word_map = WordMap.load(Path(folder) / f"WORDMAP_{base}.json")
    images_path = tutorial_file(folder, "IMAGES", split, base)
    if not images_path.is_file():
        raise VlkitError(f"tutorial image file not found: {images_path}")
    h5py = import_h5py()
    try:
        with h5py.File(images_path, "r") as handle:
            if "images" not in handle or "captions_per_image" not in handle.attrs:
                raise VlkitError(f"{images_path} is not a tutorial image file: it needs a dataset 'images' and an "
                                 f"attribute 'captions_per_image' (found {sorted(handle)}, {sorted(handle.attrs)})")
            shape, dtype = handle["images"].shape, handle["images"].dtype
            per_image = int(handle.attrs["captions_per_image"])
    except OSError as error:
        raise VlkitError(f"{images_path} is not a readable HDF5 file: {error}") from error
    if len(shape) != 4 or shape[1] != 3 or dtype != np.uint8:
        raise VlkitError(f"{images_path}: 'images' is {dtype} {shape}, expected uint8 (N, 3, 256, 256)")
    captions = _integers(tutorial_file(folder, "CAPTIONS", split, base))
    lengths = _integers(tutorial_file(folder, "CAPLENS", split, base))
    count = shape[0] * per_image
    if captions.ndim != 2 or len(captions) != count or lengths.shape != (count,):
        raise VlkitError(f"{folder}: {split.upper()} has {shape[0]} images x {per_image} captions per image = {count}, "
                         f"but {captions.shape[0] if captions.ndim else 0} captions (of equal width) and "
                         f"{len(lengths)} lengths")
    if count and (captions.max() >= len(word_map) or captions.min() < 0):
        raise VlkitError(f"{folder}: {split.upper()} captions hold indices outside the word map of {len(word_map)} "
                         f"words (WORDMAP_{base}.json belongs to other files)")
    return SplitData(HDF5Images(images_path, shape[0]), captions.reshape(shape[0], per_image, -1),
                     lengths.reshape(shape[0], per_image), word_map, np.arange(shape[0], dtype=np.int64))


def _integers(path: Path) -> np.ndarray:
    """The JSON list of integers (or of equal-length lists of integers) of a tutorial file as int64."""
    if not path.is_file():
        raise VlkitError(f"tutorial file not found: {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, list):
            raise ValueError(f"found a {type(data).__name__}")
        return np.asarray(data, dtype=np.int64)
    except (ValueError, TypeError) as error:
        raise VlkitError(f"{path}: expected a JSON list of integers (or of equal-length lists of integers): "
                         f"{error}") from error
