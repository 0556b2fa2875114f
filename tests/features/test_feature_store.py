"""The memory-mapped feature store: round trip, masks, missing ids, multi-process reading."""

import pickle

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from vlkit.core.errors import VlkitError
from vlkit.features.store import FeatureStore, StoreWriter


def make_store(path, kind="regions"):
    ids = [42, 7, 1000, 3]
    writer = StoreWriter(path, ids, k_max=5, dim=4, kind=kind, manifest={"source": "test", "model": "none"})
    rng = np.random.default_rng(0)
    rows = {}
    for image_id, count in zip(ids, [5, 2, 3, 1]):
        features = rng.normal(size=(1, count, 4)).astype(np.float32)
        if image_id == 3:
            features[:] = 0.0  # a genuine all-zero feature is still a feature
        boxes = rng.uniform(0, 100, size=(1, count, 4)).astype(np.float32) if kind == "regions" else None
        size = np.array([[480, 640]]) if kind == "regions" else None
        writer.write([image_id], features, [count], boxes, size)
        rows[image_id] = (features[0], boxes[0] if boxes is not None else None)
    writer.finish()
    return rows


def test_round_trip_with_masks_from_num_boxes(tmp_path):
    rows = make_store(tmp_path / "store")
    store = FeatureStore(tmp_path / "store")
    assert store.ids.tolist() == [3, 7, 42, 1000]  # sorted for searchsorted
    assert store.manifest["complete"] and store.manifest["kind"] == "regions"
    batch = store.get([1000, 3, 42])  # any order in, same order out
    assert batch.features.shape == (3, 5, 4) and batch.features.dtype == np.float16
    assert batch.num_boxes.tolist() == [3, 1, 5]
    assert batch.mask.tolist() == [[True] * 3 + [False] * 2, [True] + [False] * 4, [True] * 5]
    np.testing.assert_allclose(batch.features[0, :3], rows[1000][0], atol=1e-2)
    assert not batch.features[0, 3:].any()  # padding rows are zero, and masked
    np.testing.assert_allclose(batch.boxes[2], rows[42][1])
    assert batch.image_size.tolist() == [[480, 640]] * 3
    assert store.has([3, 5]).tolist() == [True, False]
    with pytest.raises(VlkitError, match=r"1 image id\(s\) have no features.*\[5\]"):
        store.get([3, 5])


def test_pickling_sends_only_the_path(tmp_path):
    make_store(tmp_path / "store")
    store = FeatureStore(tmp_path / "store")
    store.get([3])  # opens the memory maps in this process
    clone = pickle.loads(pickle.dumps(store))
    assert clone._arrays is None and len(pickle.dumps(store)) < 2000
    np.testing.assert_array_equal(clone.get([7]).features, store.get([7]).features)


class StoreRows(Dataset):
    def __init__(self, store):
        self.store = store

    def __len__(self):
        return len(self.store)

    def __getitem__(self, index):
        image_id = int(self.store.ids[index])
        return image_id, torch.from_numpy(self.store.get([image_id]).features[0].astype(np.float32))


def test_store_read_from_worker_processes(tmp_path):
    make_store(tmp_path / "store")
    store = FeatureStore(tmp_path / "store")
    loader = DataLoader(StoreRows(store), batch_size=2, num_workers=2)
    for ids, features in loader:
        expected = store.get(ids.tolist()).features.astype(np.float32)
        np.testing.assert_array_equal(features.numpy(), expected)


def test_reopening_for_another_extraction_is_refused(tmp_path):
    make_store(tmp_path / "store")
    with pytest.raises(VlkitError, match="another extraction"):
        StoreWriter(tmp_path / "store", [1, 2], k_max=5, dim=4, kind="regions", manifest={"source": "test",
                                                                                          "model": "none"})
    with pytest.raises(VlkitError, match="not a vlkit feature store"):
        FeatureStore(tmp_path)
