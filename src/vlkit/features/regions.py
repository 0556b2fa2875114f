"""Import bottom-up-attention region features into a feature store.

- `mcan-npz`: MCAN/openvqa's one `.npz` per image (`COCO_val2014_000000391895.jpg.npz`), with `x`
  stored (2048, N) (transposed here to (N, 2048)), `bbox` (N, 4), `image_h`, `image_w`; 10-100 boxes.
- `butd-tsv`: the bottom-up-attention TSV: tab-separated image_id, image_w, image_h, num_boxes,
  boxes (base64 of float32 (N, 4)), features (base64 of float32 (N, D)).
Both resume: images already stored are skipped. Unreadable files are listed in the report.
"""

from __future__ import annotations

import base64
import binascii
import csv
import sys
import zipfile
from pathlib import Path
from typing import Iterator

import numpy as np
from tqdm.auto import tqdm

from vlkit.core.errors import VlkitError
from vlkit.features.image import image_id_from_name
from vlkit.features.store import StoreWriter, finish_writing

TSV_FIELDS = ("image_id", "image_w", "image_h", "num_boxes", "boxes", "features")
TSV_ERRORS = (ValueError, TypeError, binascii.Error)


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """(features (N, D) float32, boxes (N, 4), (height, width)) of one MCAN npz."""
    with np.load(path) as data:
        missing = [k for k in ("x", "bbox", "image_h", "image_w") if k not in data.files]
        if missing:
            raise ValueError(f"lacks {missing} (has {data.files})")
        features = np.asarray(data["x"]).T
        boxes = np.asarray(data["bbox"], dtype=np.float32)
        if features.shape[0] != boxes.shape[0]:
            raise ValueError(f"x has {features.shape[0]} boxes but bbox has {boxes.shape[0]}")
        return features, boxes, (int(data["image_h"]), int(data["image_w"]))


def _tsv_rows(path: Path) -> Iterator[dict]:
    csv.field_size_limit(sys.maxsize)
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t", fieldnames=TSV_FIELDS):
            yield row


def _decode_tsv_row(row: dict) -> tuple[int, np.ndarray, np.ndarray, tuple[int, int]]:
    count = int(row["num_boxes"])
    boxes = np.frombuffer(base64.b64decode(row["boxes"]), dtype=np.float32).reshape(count, 4)
    features = np.frombuffer(base64.b64decode(row["features"]), dtype=np.float32).reshape(count, -1)
    return int(row["image_id"]), features, boxes, (int(row["image_h"]), int(row["image_w"]))


NPZ_ERRORS = (ValueError, OSError, KeyError, zipfile.BadZipFile, EOFError)


def _check_max_boxes(max_boxes: int) -> None:
    if max_boxes < 1:
        raise VlkitError(f"--max-boxes must be at least 1, got {max_boxes}")


def _fit(features: np.ndarray, boxes: np.ndarray, dim: int, max_boxes: int) -> tuple[np.ndarray, np.ndarray, int]:
    """The first `max_boxes` rows of one image as (1, K, D) and (1, K, 4); another width D is an error."""
    if features.ndim != 2 or features.shape[1] != dim:
        raise ValueError(f"has features of shape {features.shape}, where the store holds (boxes, {dim})")
    if boxes.shape != (len(features), 4):
        raise ValueError(f"has boxes of shape {boxes.shape} for {len(features)} feature rows; "
                         f"expected ({len(features)}, 4)")
    count = min(len(features), max_boxes)
    return features[None, :count], boxes[None, :count], count


def import_mcan_npz(source: Path, out: Path, max_boxes: int = 100, skip_bad: bool = False) -> dict:
    """Import a folder of MCAN npz files; returns the store manifest (unreadable files recorded)."""
    _check_max_boxes(max_boxes)
    files = sorted(source.glob("*.npz")) if source.is_dir() else []
    if not files:
        raise VlkitError(f"no .npz files in {source}")
    by_id = {image_id_from_name(f.name): f for f in files}
    dim, errors = None, []
    for path in files:  # the store's width D is the first readable file's
        try:
            dim = _read_npz(path)[0].shape[1]
            break
        except NPZ_ERRORS as error:
            errors.append(f"{path.name}: {error}")
    if dim is None:
        raise VlkitError(f"none of the {len(files)} .npz files in {source} can be read, e.g. {'; '.join(errors[:3])}")
    manifest = {"source": str(source.resolve()), "model": "bottom-up-attention (mcan-npz import)",
                "weights_sha256": None, "random_weights": False, "grid": None,
                "preprocessing": f"imported from MCAN npz; at most {max_boxes} boxes"}
    writer = StoreWriter(out, list(by_id), max_boxes, dim, "regions", manifest)
    bad = []
    for image_id in tqdm(writer.pending().tolist(), unit="img", desc="importing npz"):
        try:
            features, boxes, size = _read_npz(by_id[image_id])
            rows, row_boxes, count = _fit(features, boxes, dim, max_boxes)
        except NPZ_ERRORS as error:
            bad.append((image_id, f"{by_id[image_id].name}: {error}"))
            continue
        writer.write([image_id], rows, [count], row_boxes, np.array([size]))
    return finish_writing(writer, bad, skip_bad)


def import_butd_tsv(source: Path, out: Path, max_boxes: int = 100, skip_bad: bool = False) -> dict:
    """Import one bottom-up-attention TSV file (read twice: ids and the width D first, then rows)."""
    _check_max_boxes(max_boxes)
    if not source.is_file():
        raise VlkitError(f"TSV file not found: {source}")
    ids, dim = [], None
    for line, row in enumerate(_tsv_rows(source), start=1):
        try:
            ids.append(int(row["image_id"]))
        except (TypeError, ValueError) as error:
            raise VlkitError(f"{source}, line {line}: no image id ({error}); expected the columns "
                             f"{', '.join(TSV_FIELDS)}") from error
        if dim is None:
            try:
                dim = _decode_tsv_row(row)[1].shape[1]
            except TSV_ERRORS:
                continue  # recorded as bad when its turn comes
    if not ids:
        raise VlkitError(f"{source} holds no rows")
    if dim is None:
        raise VlkitError(f"no row of {source} can be decoded (expected {', '.join(TSV_FIELDS)})")
    manifest = {"source": str(source.resolve()), "model": "bottom-up-attention (butd-tsv import)",
                "weights_sha256": None, "random_weights": False, "grid": None,
                "preprocessing": f"imported from TSV; at most {max_boxes} boxes"}
    writer = StoreWriter(out, ids, max_boxes, dim, "regions", manifest)
    pending = set(writer.pending().tolist())
    bad = []
    for row in tqdm(_tsv_rows(source), total=len(ids), unit="img", desc="importing tsv"):
        if int(row["image_id"]) not in pending:
            continue
        try:
            image_id, features, boxes, size = _decode_tsv_row(row)
            rows, row_boxes, count = _fit(features, boxes, dim, max_boxes)
        except TSV_ERRORS as error:
            bad.append((int(row["image_id"]), f"image {row['image_id']}: {error}"))
            continue
        writer.write([image_id], rows, [count], row_boxes, np.array([size]))
    return finish_writing(writer, bad, skip_bad)
