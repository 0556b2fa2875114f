"""The embedded default (`data.dataset: synthetic_shapes`): vlkit's procedural shapes set, made and prepared on first use.

The set (`vlkit.synth.captions`: 1-3 coloured shapes per image, five true captions each about what
is there and where) is written in Karpathy's format into the cache (`$VLKIT_CACHE`, default
`~/.cache/vlkit`, under `synthetic-captions/<settings>/`) and prepared there by the same code as
`vlkit caption prepare`, so that training on it exercises the whole path; a second run reuses it.
"""

from __future__ import annotations

import fcntl
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from vlkit.caption.data.module import CaptionDataModule, PreparedCaptionData
from vlkit.caption.data.prepare import prepare_karpathy
from vlkit.caption.data.prepared import MANIFEST, read_prepared_manifest
from vlkit.caption.data.registry import register_dataset
from vlkit.caption.run_files import CaptionVocabularies
from vlkit.core.cache import cache_dir
from vlkit.core.errors import InvalidValue
from vlkit.core.validation import check_positive_int
from vlkit.synth.captions import write_synthetic_karpathy

KARPATHY_FILE = "dataset_synthetic.json"


@dataclass
class SyntheticCaptionData(PreparedCaptionData):
    """The data section of `data.dataset: synthetic_shapes` (`folder`: where it goes; empty: the cache)."""

    n_train: int = 800  # training images (the last tenth as Karpathy's restval, which joins train)
    n_val: int = 100
    n_test: int = 100
    image_size: int = 64
    set_seed: int = 0  # draws the scenes (trainer.seed draws the training order)

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive_int(self, "n_train", "n_val", "n_test")
        if isinstance(self.image_size, bool) or not isinstance(self.image_size, int) or self.image_size < 32:
            raise InvalidValue("image_size", self.image_size, "a whole number >= 32 (three shapes must fit)")


@register_dataset("synthetic_shapes", SyntheticCaptionData)
class SyntheticCaptionDataModule(CaptionDataModule):
    """The prepared folder of the synthetic set, written and prepared by the first process that needs it."""

    def __init__(self, options: SyntheticCaptionData, seed: int, vocabularies: Optional[CaptionVocabularies] = None):
        super().__init__(options, seed, vocabularies)
        self.prepared: Optional[str] = None

    def karpathy_file(self) -> Path:
        """The set's Karpathy file, which also lists every image's objects and their boxes."""
        return Path(self.folder()).parent / "raw" / KARPATHY_FILE

    def folder(self) -> str:
        if self.prepared is None:
            options = self.config
            root = Path(options.folder) if options.folder else synthetic_cache_root(
                options.n_train, options.n_val, options.n_test, options.image_size, options.set_seed)
            self.prepared = str(make_synthetic_folder(root, options))
        return self.prepared


def synthetic_cache_root(n_train: int, n_val: int, n_test: int, image_size: int, set_seed: int) -> Path:
    """Where the set of these settings lives in the cache when `data.folder` is empty (its `raw/` and `prepared/`)."""
    return cache_dir("synthetic-captions") / f"{n_train}-{n_val}-{n_test}-{image_size}px-seed{set_seed}"


def make_synthetic_folder(root: Path, options: SyntheticCaptionData) -> Path:
    """`root/prepared`, made once (one process at a time, under a lock file) from the set written in `root/raw`."""
    root.mkdir(parents=True, exist_ok=True)
    prepared = root / "prepared"
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (prepared / MANIFEST).is_file() and read_prepared_manifest(prepared).get("complete"):
            return prepared
        raw = root / "raw"
        if not (raw / KARPATHY_FILE).is_file():
            shutil.rmtree(raw, ignore_errors=True)  # a set cut short by a kill: written again
            staging = root / "raw.partial"
            shutil.rmtree(staging, ignore_errors=True)
            write_synthetic_karpathy(staging, options.n_train, options.n_val, options.n_test, options.image_size,
                                     options.set_seed)
            staging.rename(raw)
        prepare_karpathy(raw / KARPATHY_FILE, raw, prepared, min_word_freq=1, max_len=20,
                         image_size=options.image_size, workers=2, progress=False)
    return prepared
