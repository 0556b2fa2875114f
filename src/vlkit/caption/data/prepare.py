"""Preparing a Karpathy split file and its images into vlkit's prepared folder (layout in `prepared.py`).

The word map and every caption are computed first (a caption problem is an error before anything is
written), then the caption files and the empty image array, then the images are decoded (threads),
resized and written row by row. Preparation resumes: rerun with the same file and settings and the
rows already done are skipped, as the feature store does it (`vlkit.features.store`): a row is marked
done only after its pixels are flushed to disk, so a kill never leaves a half-written row counted as
done. Images that cannot be read are listed; with `skip_bad` they are recorded as skipped and left out
of the dataset, otherwise the folder stays incomplete and the error names the files.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Optional

import numpy as np
from tqdm.auto import tqdm

from vlkit.caption.data.encoding import LONG_CAPTIONS, encode_images
from vlkit.caption.data.karpathy import RESTVAL_CHOICES, KarpathyDataset, KarpathyImage, read_karpathy, split_names
from vlkit.caption.data.prepared import FORMAT, MANIFEST, VERSION, WORD_MAP, read_prepared_manifest
from vlkit.caption.data.word_map import WORD_COUNTING, build_word_map
from vlkit.core.errors import VlkitError
from vlkit.core.files import replacing, write_json_atomic, write_text_atomic
from vlkit.features.store import finish_writing, record_bad_items
from vlkit.vision.images import load_rgb

ROWS_PER_FLUSH = 64  # images decoded, written and flushed together before they are marked done


def prepare_karpathy(karpathy_json: str | Path, images_root: str | Path, out_dir: str | Path, *,
                     min_word_freq: int = 5, captions_per_image: int = 5, max_len: int = 50,
                     long_captions: str = "drop", restval: str = "train", word_counting: str = "train",
                     seed: int = 123, skip_bad: bool = False, progress: bool = True, image_size: int = 256,
                     workers: int = 4) -> dict:
    """Prepare (or finish preparing) `out_dir` from a Karpathy split file; returns the manifest.

    Defaults are the tutorial's (5 captions per image, min_word_freq 5, max_len 50, seed 123, 256x256
    images) except `word_counting="train"` (see `word_map`). `workers` threads decode images.
    """
    settings = {"min_word_freq": min_word_freq, "captions_per_image": captions_per_image, "max_len": max_len,
                "long_captions": long_captions, "restval": restval, "word_counting": word_counting, "seed": seed}
    _check_settings(settings, image_size, workers)
    if not Path(images_root).is_dir():
        raise VlkitError(f"images folder not found: {images_root} (give the folder the Karpathy file's image paths "
                         "are under)")
    dataset = read_karpathy(karpathy_json, images_root)
    writer = PreparedWriter(out_dir, dataset, settings, image_size)
    bad = writer.fill(workers, progress)
    return finish_writing(writer, bad, skip_bad)


def _check_settings(settings: dict, image_size: int, workers: int) -> None:
    """Every setting checked before any file is read."""
    choices = {"long_captions": LONG_CAPTIONS, "restval": RESTVAL_CHOICES, "word_counting": WORD_COUNTING}
    for key, allowed in choices.items():
        if settings[key] not in allowed:
            raise VlkitError(f"{key} must be one of {', '.join(allowed)}, got {settings[key]!r}")
    minimums = {"min_word_freq": 0, "captions_per_image": 1, "max_len": 1}
    for key, minimum in minimums.items():
        if not isinstance(settings[key], int) or settings[key] < minimum:
            raise VlkitError(f"{key} must be an integer of at least {minimum}, got {settings[key]!r}")
    if image_size < 8:
        raise VlkitError(f"image_size must be at least 8 pixels, got {image_size}")
    if workers < 0:
        raise VlkitError(f"workers must be 0 or more, got {workers}")


class PreparedWriter:
    """Creates a prepared folder (captions, word map, empty image arrays) or reopens one to resume it."""

    def __init__(self, directory: str | Path, dataset: KarpathyDataset, settings: dict, image_size: int):
        self.directory = Path(directory)
        self.image_size = image_size
        identity = {"format": FORMAT, "version": VERSION, "dataset": dataset.name,
                    "source_sha256": hashlib.sha256(dataset.source.read_bytes()).hexdigest(),
                    "settings": settings, "image_size": image_size}
        if (self.directory / MANIFEST).is_file():
            self.manifest = read_prepared_manifest(self.directory)
            changed = [key for key, value in identity.items() if self.manifest.get(key) != value]
            if changed:
                raise VlkitError(f"{self.directory} holds another preparation (it differs in {changed}); choose "
                                 "another output folder or delete it")
        else:
            self.manifest = self._create(dataset, identity)
        self.images = {name: dataset.split(name, settings["restval"]) for name in self.manifest["splits"]}
        self.arrays = {name: {kind: np.load(self.directory / name / f"{kind}.npy", mmap_mode="r+")
                              for kind in ("images", "done")} for name in self.images}

    def _create(self, dataset: KarpathyDataset, identity: dict) -> dict:
        """Compute the word map and captions, then write them, the empty image arrays and (last) the manifest."""
        settings = identity["settings"]
        splits = {name: dataset.split(name, settings["restval"]) for name in split_names(settings["restval"])}
        if not splits["train"]:
            raise VlkitError(f"{dataset.source} has no training images (split 'train' or 'restval')")
        word_map = build_word_map(dataset, settings["min_word_freq"], settings["word_counting"], settings["restval"])
        rng = random.Random(settings["seed"])
        encoded = {name: encode_images(images, word_map, settings["captions_per_image"], settings["max_len"],
                                       settings["long_captions"], rng)
                   for name, images in splits.items() if images}
        self.directory.mkdir(parents=True, exist_ok=True)
        word_map.save(self.directory / WORD_MAP)
        for name, (captions, lengths) in encoded.items():
            self._write_split(name, splits[name], captions, lengths)
        manifest = {**identity, "source": str(dataset.source.resolve()), "words": len(word_map),
                    "splits": {name: len(splits[name]) for name in encoded}, "complete": False,
                    "skipped_ids": [], "failed_ids": [], "rows_done": 0}
        write_json_atomic(self.directory / MANIFEST, manifest)
        return manifest

    def _write_split(self, name: str, images: list[KarpathyImage], captions: np.ndarray, lengths: np.ndarray) -> None:
        """The caption files of one split and its empty image and done arrays."""
        folder = self.directory / name
        folder.mkdir(exist_ok=True)
        arrays = {"ids": np.array([image.image_id for image in images], dtype=np.int64),
                  "captions": captions, "lengths": lengths}
        for kind, array in arrays.items():
            with replacing(folder / f"{kind}.npy") as temporary:
                np.save(temporary, array)
        write_text_atomic(folder / "references.json",
                          json.dumps([[" ".join(tokens) for tokens in image.tokens] for image in images]))
        size = self.image_size
        for kind, dtype, shape in (("images", np.uint8, (len(images), 3, size, size)), ("done", bool, (len(images),))):
            array = np.lib.format.open_memmap(folder / f"{kind}.npy", mode="w+", dtype=dtype, shape=shape)
            array.flush()
            del array

    def fill(self, workers: int, progress: bool) -> list[tuple[int, str]]:
        """Decode and write every image not done yet; returns (image id, reason) of those that cannot be read."""
        todo = {name: np.flatnonzero(~np.asarray(arrays["done"])) for name, arrays in self.arrays.items()}
        bad: list[tuple[int, str]] = []
        with ThreadPoolExecutor(max(workers, 1)) as pool, \
                tqdm(total=sum(map(len, todo.values())), unit="img", desc="preparing images", file=sys.stderr,
                     disable=not progress) as bar:
            for name, rows in todo.items():
                images = self.images[name]
                for start in range(0, len(rows), ROWS_PER_FLUSH):
                    chunk = rows[start:start + ROWS_PER_FLUSH].tolist()
                    decoded = list(pool.map(lambda row: _decode(images[row].path, self.image_size), chunk))
                    bad += [(images[row].image_id, reason) for row, (_, reason) in zip(chunk, decoded) if reason]
                    self._write(name, [(row, pixels) for row, (pixels, _) in zip(chunk, decoded) if pixels is not None])
                    bar.update(len(chunk))
        return bad

    def _write(self, split: str, rows: list[tuple[int, np.ndarray]]) -> None:
        """Store (row, image (3, S, S) uint8) pairs; the pixels are flushed before the rows are marked done."""
        if not rows:
            return
        arrays = self.arrays[split]
        indices = [row for row, _ in rows]
        arrays["images"][indices] = np.stack([pixels for _, pixels in rows])
        arrays["images"].flush()
        arrays["done"][indices] = True
        arrays["done"].flush()

    def finish(self, bad: list[int], skip_bad: bool) -> dict:
        """Record the images that could not be read in this run (skipped with `skip_bad`, else failed and retried by
        the next run); returns the manifest, complete when every image is done or skipped."""
        ids = np.concatenate([np.load(self.directory / name / "ids.npy") for name in self.arrays])
        done = np.concatenate([np.asarray(arrays["done"]) for arrays in self.arrays.values()])
        record_bad_items(self.manifest, ids, done, bad, skip_bad)
        write_json_atomic(self.directory / MANIFEST, self.manifest)
        return self.manifest


def _decode(path: Path, size: int) -> tuple[Optional[np.ndarray], str]:
    """(image (3, size, size) uint8, "") or (None, the reason naming the file)."""
    try:
        return load_rgb(path, size).transpose(2, 0, 1), ""
    except VlkitError as error:
        return None, str(error)
