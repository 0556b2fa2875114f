"""Join stores into one: the shards of one extraction (`--shard K/N`, one process per GPU), or the
stores of several image folders (COCO train2014 + val2014 + test2015) extracted with one setting."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from vlkit.core.errors import VlkitError
from vlkit.features.store import FeatureStore, StoreWriter, skipped_ids

SAME_ACROSS_SHARDS = ("kind", "k_max", "dim", "model", "weights_sha256", "random_weights", "grid", "preprocessing")
VIDEO_SETTINGS = ("clip_shape", "feature", "frames_per_clip", "sampling")  # also the same, in stores of video clips


def merge_stores(shards: list[Path], out: Path, chunk: int = 1024) -> dict:
    """Copy every row of complete stores with the same setting and disjoint ids into a new store at `out`."""
    if len(shards) < 2:
        raise VlkitError("merge needs at least two shard stores")
    stores = [FeatureStore(path) for path in shards]
    first = stores[0].manifest
    for store in stores:
        differing = [k for k in SAME_ACROSS_SHARDS + VIDEO_SETTINGS if store.manifest.get(k) != first.get(k)]
        if differing:
            raise VlkitError(f"{store.directory} differs from {stores[0].directory} in {differing}")
        if not store.manifest.get("complete"):
            raise VlkitError(f"{store.directory} is not complete: finish (rerun) its extraction first")
    all_ids = np.concatenate([store.ids for store in stores])
    if len(np.unique(all_ids)) != len(all_ids):
        raise VlkitError("the shards share image ids: were they extracted with the same --shard?")
    manifest = {k: first.get(k) for k in SAME_ACROSS_SHARDS if k not in ("kind", "k_max", "dim")}
    manifest.update({k: first[k] for k in VIDEO_SETTINGS if k in first})
    manifest["source"] = sorted({store.manifest.get("source") for store in stores})
    manifest["merged_from"] = [str(p) for p in shards]
    writer = StoreWriter(out, all_ids.tolist(), first["k_max"], first["dim"], first["kind"], manifest)
    skipped = []
    for store in stores:
        skipped += skipped_ids(store.manifest)
        present = store.ids[store.has(store.ids)]
        for start in tqdm(range(0, len(present), chunk), desc=f"merging {store.directory.name}", unit="chunk"):
            ids = present[start: start + chunk]
            rows = store.get(ids)
            writer.write(ids, rows.features, rows.num_boxes, rows.boxes, rows.image_size)
    return writer.finish(skipped, skip_bad=True)
