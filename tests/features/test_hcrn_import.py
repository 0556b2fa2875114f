"""Importing HCRN/DualVGR's HDF5 feature files (`resnet_features` / `resnext_features` + `ids`) into clips stores."""

import builtins
import json

import h5py
import numpy as np
import pytest

from conftest import run_cli
from vlkit.core.errors import VlkitError
from vlkit.features.hcrn_h5 import import_hcrn_h5
from vlkit.features.store import FeatureStore


def write_hcrn_file(path, dataset, features, ids):
    """An .h5 file as HCRN's generate_h5 writes it: the features dataset and `ids`, rows in shuffled order."""
    with h5py.File(path, "w") as handle:
        handle.create_dataset(dataset, data=features.astype(np.float32))
        handle.create_dataset("ids", data=np.asarray(ids, dtype=np.int64))
    return path


def test_an_appearance_file_round_trips_into_a_c_times_f_store(tmp_path):
    rng = np.random.default_rng(0)
    features = rng.normal(size=(5, 2, 3, 8))  # (N, C, F, D) as resnet_features (N, 8, 16, 2048)
    ids = [40, 7, 1302, 9, 11]
    source = write_hcrn_file(tmp_path / "msvd-qa_appearance_feat.h5", "resnet_features", features, ids)
    manifest = import_hcrn_h5(source, tmp_path / "store", chunk=2)
    assert manifest["complete"] and manifest["clip_shape"] == [2, 3] and manifest["feature"] == "appearance"
    store = FeatureStore(tmp_path / "store")
    assert store.ids.tolist() == [7, 9, 11, 40, 1302]
    rows = store.get([1302, 40])
    assert rows.features.shape == (2, 6, 8) and rows.mask.all()
    expected = features[[2, 0]].astype(np.float16)  # row 2 holds video 1302, row 0 video 40
    np.testing.assert_array_equal(rows.features.reshape(2, 2, 3, 8), expected)


def test_a_motion_file_becomes_one_vector_per_clip(tmp_path):
    features = np.arange(3 * 4 * 5, dtype=np.float32).reshape(3, 4, 5) + 1  # (N, C, D) as resnext_features
    source = write_hcrn_file(tmp_path / "msrvtt-qa_motion_feat.h5", "resnext_features", features, [3, 1, 2])
    manifest = import_hcrn_h5(source, tmp_path / "store")
    assert manifest["clip_shape"] == [4, 1] and manifest["dim"] == 5 and manifest["model"].startswith("resnext101")
    np.testing.assert_array_equal(FeatureStore(tmp_path / "store").get([1]).features[0], features[1])


def test_an_import_stopped_midway_resumes_without_rewriting_done_rows(tmp_path, monkeypatch):
    features = np.ones((6, 2, 4), np.float32) * np.arange(1, 7)[:, None, None]
    source = write_hcrn_file(tmp_path / "x_motion_feat.h5", "resnext_features", features, [6, 5, 4, 3, 2, 1])
    from vlkit.features import store as store_module

    original, calls = store_module.StoreWriter.write, []

    def write_then_die(self, ids, *args, **kwargs):
        if len(calls) == 2:
            raise KeyboardInterrupt  # a kill after the second chunk
        calls.append(list(ids))
        return original(self, ids, *args, **kwargs)

    monkeypatch.setattr(store_module.StoreWriter, "write", write_then_die)
    with pytest.raises(KeyboardInterrupt):
        import_hcrn_h5(source, tmp_path / "store", chunk=2)
    assert calls == [[6, 5], [4, 3]]
    calls.clear()
    monkeypatch.setattr(store_module.StoreWriter, "write", lambda self, ids, *a, **k: (calls.append(list(ids)),
                                                                                     original(self, ids, *a, **k)))
    manifest = import_hcrn_h5(source, tmp_path / "store", chunk=2)
    assert calls == [[2, 1]] and manifest["complete"] and manifest["rows_done"] == 6
    np.testing.assert_array_equal(FeatureStore(tmp_path / "store").get([6, 1]).features[:, 0, 0], [1, 6])


def test_all_zero_rows_of_unreadable_videos_need_skip_bad(tmp_path):
    features = np.ones((3, 2, 4), np.float32)
    features[1] = 0  # HCRN writes zeros for a video it could not read
    source = write_hcrn_file(tmp_path / "x_motion_feat.h5", "resnext_features", features, [10, 20, 30])
    with pytest.raises(VlkitError, match="video 20: all-zero features"):
        import_hcrn_h5(source, tmp_path / "store")
    manifest = import_hcrn_h5(source, tmp_path / "store", skip_bad=True)
    assert manifest["complete"] and manifest["skipped_ids"] == [20] and manifest["rows_done"] == 2


@pytest.mark.parametrize("layout,message", [
    ({"features": np.ones((2, 3, 4)), "ids": np.arange(2)}, "expected resnet_features"),
    ({"resnext_features": np.ones((2, 3, 4))}, "expected resnet_features"),
    ({"resnext_features": np.ones((2, 3, 4, 5)), "ids": np.arange(2)}, r"resnext_features has shape \(2, 3, 4, 5\)"),
    ({"resnet_features": np.ones((2, 3, 4, 5)), "ids": np.arange(3)}, "one id per row"),
    ({"resnet_features": np.ones((2, 1, 1, 1)), "ids": np.array([4, 4])}, r"ids \[4\] appear in more than one row"),
])
def test_a_file_of_another_layout_is_an_error_saying_what_was_expected(tmp_path, layout, message):
    with h5py.File(tmp_path / "bad.h5", "w") as handle:
        for name, values in layout.items():
            handle.create_dataset(name, data=values)
    with pytest.raises(VlkitError, match=message):
        import_hcrn_h5(tmp_path / "bad.h5", tmp_path / "store")
    assert not (tmp_path / "store").exists()


def test_a_file_that_is_not_hdf5_is_an_error(tmp_path):
    (tmp_path / "fake.h5").write_text("hello")
    with pytest.raises(VlkitError, match="fake.h5 is not an HDF5 file"):
        import_hcrn_h5(tmp_path / "fake.h5", tmp_path / "store")


def test_without_h5py_the_error_says_how_to_install_it(tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_h5py(name, *args, **kwargs):
        if name == "h5py":
            raise ImportError("No module named 'h5py'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_h5py)
    with pytest.raises(VlkitError, match="pip install h5py"):
        import_hcrn_h5(tmp_path / "x.h5", tmp_path / "store")


def test_the_cli_imports_an_hcrn_file(tmp_path):
    features = np.ones((2, 3, 4), np.float32)
    source = write_hcrn_file(tmp_path / "msvd-qa_motion_feat.h5", "resnext_features", features, [1, 2])
    result = run_cli(["features", "import", "--format", "hcrn-h5", "--src", str(source), "--out",
                      str(tmp_path / "store"), "--json"], cwd=tmp_path)
    manifest = json.loads(result.stdout)
    assert manifest["kind"] == "clips" and manifest["clip_shape"] == [3, 1] and manifest["rows_done"] == 2
