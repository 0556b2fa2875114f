"""Memory-mapped feature store: one directory per (dataset, feature kind), read row by row.

Layout of a store directory:
    manifest.json    kind (grid | regions | pooled | clips), source, model, weights hash, preprocessing,
                     dtype, created, count, k_max, dim, grid shape, complete, skipped_ids, failed_ids
    ids.npy          (N,) int64, sorted: image id -> row by searchsorted
    features.npy     (N, K_max, D) float16, contiguous
    num_boxes.npy    (N,) int32: masks come from here, never from all-zero rows
    done.npy         (N,) bool: a row is marked done only after its data is flushed to disk
    boxes.npy        (N, K_max, 4) float32, x1 y1 x2 y2 in pixels      (regions only)
    image_size.npy   (N, 2) int32, height and width                    (regions only)

A `clips` store holds video features: row = video id, K_max = clips x frames per clip (the manifest's
`clip_shape` [C, F]; F = 1 for one vector per clip, e.g. motion), so a row reshapes to (C, F, D).

Readers open the arrays with `np.load(mmap_mode="r")` lazily, on first access, in the process that
reads; pickling a store (DataLoader workers) sends only its path. Writers resume: rows already
done are skipped, so a killed extraction continues where it stopped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from vlkit.core.errors import VlkitError
from vlkit.core.files import read_folder_manifest, write_json_atomic

KINDS = ("grid", "regions", "pooled", "clips")
MANIFEST = "manifest.json"
ARRAYS = ("features", "num_boxes", "done")
REGION_ARRAYS = ("boxes", "image_size")


def finish_writing(writer: "StoreWriter", bad: list[tuple[int, str]], skip_bad: bool) -> dict:
    """Record the items (id, reason) that could not be read and return the manifest; unless `skip_bad`, a bad
    item is an error: the store stays incomplete and the next run retries it."""
    manifest = writer.finish([image_id for image_id, _ in bad], skip_bad)
    if bad and not skip_bad:
        listed = "; ".join(reason for _, reason in bad[:5]) + ("; ..." if len(bad) > 5 else "")
        raise VlkitError(f"{len(bad)} item(s) could not be read ({listed}); the output is not complete: fix them "
                         "and rerun to finish it, or rerun with --skip-bad to skip them (the rows done are kept)")
    return manifest


def read_manifest(directory: str | Path) -> dict:
    """The manifest of a store, after checking that the store's arrays are all there."""
    path = Path(directory) / MANIFEST
    manifest = read_folder_manifest(directory, MANIFEST, "vlkit feature store",
                                    "vlkit features extract, import or vlkit videoqa prepare")
    if manifest.get("kind") not in KINDS:
        raise VlkitError(f"{path} is not a vlkit feature store manifest (no kind among {', '.join(KINDS)})")
    names = ["ids", *ARRAYS, *(REGION_ARRAYS if manifest["kind"] == "regions" else ())]
    missing = [f"{name}.npy" for name in names if not (Path(directory) / f"{name}.npy").is_file()]
    if missing:
        raise VlkitError(f"{directory} is not a complete vlkit feature store: {', '.join(missing)} missing "
                         "(rerun the extraction or import that made it)")
    return manifest


def skipped_ids(manifest: dict) -> list[int]:
    """Ids accepted as unreadable with --skip-bad (stores of vlkit 0.1 called them bad_ids)."""
    return list(manifest.get("skipped_ids", manifest.get("bad_ids", [])))


@dataclass
class FeatureBatch:
    """Rows of a store: features (B, K, D) float16, mask (B, K) bool, boxes (B, K, 4) and sizes (B, 2) or None."""

    features: np.ndarray
    mask: np.ndarray
    num_boxes: np.ndarray
    boxes: Optional[np.ndarray]
    image_size: Optional[np.ndarray]


class FeatureStore:
    """Read access by image id. Cheap to pickle: the arrays are (re)opened in each process."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        self.manifest = read_manifest(self.directory)
        self.ids = np.load(self.directory / "ids.npy")
        self._arrays: Optional[dict[str, np.ndarray]] = None

    def __getstate__(self) -> dict:
        return {"directory": self.directory, "manifest": self.manifest, "ids": self.ids, "_arrays": None}

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def arrays(self) -> dict[str, np.ndarray]:
        """The memory-mapped arrays, opened on first use in this process."""
        if self._arrays is None:
            names = [*ARRAYS, *(REGION_ARRAYS if self.manifest["kind"] == "regions" else ())]
            self._arrays = {name: np.load(self.directory / f"{name}.npy", mmap_mode="r") for name in names}
        return self._arrays

    def has(self, ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """(B,) bool: whether each id has finished features."""
        ids = np.asarray(ids, dtype=np.int64)
        rows = np.searchsorted(self.ids, ids).clip(max=max(len(self.ids) - 1, 0))
        present = (self.ids[rows] == ids) if len(self.ids) else np.zeros(len(ids), bool)
        return present & np.asarray(self.arrays["done"])[rows]

    def rows(self, ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """(B,) row of each id; ids without finished features raise an error that lists them."""
        ids = np.asarray(ids, dtype=np.int64)
        available = self.has(ids)
        if not available.all():
            missing = ids[~available].tolist()
            raise VlkitError(f"{len(missing)} image id(s) have no features in {self.directory}: {missing[:10]}")
        return np.searchsorted(self.ids, ids)

    def get(self, ids: Sequence[int] | np.ndarray) -> FeatureBatch:
        """Rows for `ids`, in their order (reads sorted rows, then restores the order)."""
        rows = self.rows(ids)
        order = np.argsort(rows, kind="stable")
        restore = np.empty_like(order)
        restore[order] = np.arange(len(order))
        sorted_rows = rows[order]
        arrays = self.arrays
        features = arrays["features"][sorted_rows][restore]
        num_boxes = np.asarray(arrays["num_boxes"][sorted_rows][restore])
        mask = np.arange(features.shape[1])[None, :] < num_boxes[:, None]
        regions = self.manifest["kind"] == "regions"
        return FeatureBatch(
            features=features, mask=mask, num_boxes=num_boxes,
            boxes=arrays["boxes"][sorted_rows][restore] if regions else None,
            image_size=arrays["image_size"][sorted_rows][restore] if regions else None,
        )

    def info(self) -> dict:
        """Manifest, counts and sizes for `vlkit features info`."""
        done = int(np.asarray(self.arrays["done"]).sum())
        size = sum(p.stat().st_size for p in self.directory.iterdir() if p.is_file())
        return {**self.manifest, "rows_done": done, "rows_total": len(self.ids), "bytes_on_disk": size}


class StoreWriter:
    """Creates (or reopens, to resume) a store for a fixed set of ids and writes rows as they come."""

    def __init__(self, directory: str | Path, ids: Sequence[int], k_max: int, dim: int, kind: str,
                 manifest: dict):
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}")
        self.directory = Path(directory)
        ids = np.asarray(sorted(set(int(i) for i in ids)), dtype=np.int64)
        if len(ids) == 0:
            raise VlkitError("no images to store")
        self.kind = kind
        identity = {"kind": kind, "k_max": int(k_max), "dim": int(dim), "count": len(ids), **manifest}
        if (self.directory / MANIFEST).is_file():
            self.manifest = read_manifest(self.directory)
            stored_ids = np.load(self.directory / "ids.npy")
            changed = [k for k, v in identity.items() if k != "created" and self.manifest.get(k) != v]
            if changed or not np.array_equal(stored_ids, ids):
                raise VlkitError(f"{self.directory} holds another extraction (differs in "
                                 f"{changed or ['image ids']}); choose a new --out or delete it")
            self.ids = stored_ids
            mode = "r+"
        else:
            self.directory.mkdir(parents=True, exist_ok=True)
            self.ids = ids
            np.save(self.directory / "ids.npy", ids)
            self.manifest = {**identity, "dtype": "float16", "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
                             "complete": False, "skipped_ids": [], "failed_ids": []}
            self._allocate(k_max, dim)
            write_json_atomic(self.directory / MANIFEST, self.manifest)
            mode = "r+"
        self.arrays = {p.stem: np.load(p, mmap_mode=mode) for p in self.directory.glob("*.npy") if p.stem != "ids"}

    def _allocate(self, k_max: int, dim: int) -> None:
        n = len(self.ids)
        shapes = {"features": ((n, k_max, dim), np.float16), "num_boxes": ((n,), np.int32), "done": ((n,), bool)}
        if self.kind == "regions":
            shapes.update(boxes=((n, k_max, 4), np.float32), image_size=((n, 2), np.int32))
        for name, (shape, dtype) in shapes.items():
            array = np.lib.format.open_memmap(self.directory / f"{name}.npy", mode="w+", dtype=dtype, shape=shape)
            array.flush()
            del array

    def pending(self) -> np.ndarray:
        """Ids whose rows are not done yet, sorted."""
        return self.ids[~np.asarray(self.arrays["done"])]

    def write(self, ids: Sequence[int], features: np.ndarray, num_boxes: Sequence[int],
              boxes: Optional[np.ndarray] = None, image_size: Optional[np.ndarray] = None) -> None:
        """Store rows: features (B, K, D) with K <= K_max; flushed to disk before they are marked done."""
        rows = np.searchsorted(self.ids, np.asarray(ids, dtype=np.int64))
        arrays = self.arrays
        k = features.shape[1]
        arrays["features"][rows] = 0
        arrays["features"][rows, :k] = features.astype(np.float16)
        arrays["num_boxes"][rows] = np.asarray(num_boxes, dtype=np.int32)
        if self.kind == "regions":
            arrays["boxes"][rows] = 0
            arrays["boxes"][rows, :k] = boxes
            arrays["image_size"][rows] = image_size
        for name, array in arrays.items():
            if name != "done":
                array.flush()
        arrays["done"][rows] = True
        arrays["done"].flush()

    def finish(self, bad: Sequence[int] = (), skip_bad: bool = False) -> dict:
        """Record the ids that could not be read in this run; returns the manifest.

        With `skip_bad` they are skipped (recorded in `skipped_ids`, the store can be complete without
        them); otherwise they are `failed_ids`, stay pending for the next run, and the store stays
        incomplete. The store is complete when every id has a row or was skipped.
        """
        record_bad_items(self.manifest, self.ids, np.asarray(self.arrays["done"]), bad, skip_bad)
        write_json_atomic(self.directory / MANIFEST, self.manifest)
        return self.manifest


def record_bad_items(manifest: dict, ids: np.ndarray, done: np.ndarray, bad: Sequence[int], skip_bad: bool) -> None:
    """Update `manifest` (skipped_ids, failed_ids, complete, rows_done) after a writing run over rows `ids` (N,)
    with `done` (N,) bool, in which the items `bad` could not be read; see `StoreWriter.finish`."""
    bad = sorted(int(i) for i in bad)
    skipped = set(bad if skip_bad else []) | (set(skipped_ids(manifest)) - set(bad))
    manifest.pop("bad_ids", None)
    manifest["skipped_ids"] = sorted(skipped - set(ids[done].tolist()))
    manifest["failed_ids"] = [] if skip_bad else bad
    manifest["complete"] = bool((done | np.isin(ids, manifest["skipped_ids"])).all())
    manifest["rows_done"] = int(done.sum())
