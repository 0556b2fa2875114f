"""A store is complete only when every id has a row or was skipped with --skip-bad; a bad file or setting is one
clear error, found before work where it can be, and never a traceback or a store wrongly marked complete."""

import base64
import json

import numpy as np
import pytest

from conftest import invoke_cli
from test_feature_extraction import write_images, write_mcan_npz
from vlkit.core.errors import VlkitError
from vlkit.features.image import extract_image_features
from vlkit.features.regions import import_butd_tsv, import_mcan_npz
from vlkit.features.store import FeatureStore, read_manifest


def npz_name(image_id):
    return f"COCO_train2014_{image_id:012d}.jpg.npz"


def test_an_unreadable_first_npz_fails_its_item_only_and_skip_bad_completes_the_store(tmp_path):
    write_mcan_npz(tmp_path / "npz", {2: 5, 3: 6})
    (tmp_path / "npz" / npz_name(1)).write_bytes(b"PK\x03\x04 broken")  # sorts first: once used to size the store
    with pytest.raises(VlkitError, match=r"1 item\(s\) could not be read .*000000000001.*not complete"):
        import_mcan_npz(tmp_path / "npz", tmp_path / "store")
    manifest = read_manifest(tmp_path / "store")
    assert (manifest["complete"], manifest["failed_ids"], manifest["rows_done"]) == (False, [1], 2)
    manifest = import_mcan_npz(tmp_path / "npz", tmp_path / "store", skip_bad=True)
    assert (manifest["complete"], manifest["skipped_ids"], manifest["failed_ids"]) == (True, [1], [])


def test_a_file_of_another_feature_width_is_a_bad_item_not_a_broken_store(tmp_path):
    write_mcan_npz(tmp_path / "npz", {1: 5, 2: 6})  # 16-d
    np.savez(tmp_path / "npz" / npz_name(3), x=np.ones((8, 4), np.float32), bbox=np.zeros((4, 4), np.float32),
             image_h=10, image_w=10)
    with pytest.raises(VlkitError, match=r"000000000003.*shape \(4, 8\), where the store holds \(boxes, 16\)"):
        import_mcan_npz(tmp_path / "npz", tmp_path / "store")
    store = FeatureStore(tmp_path / "store")
    assert not store.manifest["complete"] and store.has([1, 2, 3]).tolist() == [True, True, False]


def test_no_readable_npz_or_no_boxes_allowed_is_refused_before_a_store_is_made(tmp_path):
    (tmp_path / "npz").mkdir()
    for image_id in (1, 2):
        (tmp_path / "npz" / npz_name(image_id)).write_bytes(b"not a zip")
    with pytest.raises(VlkitError, match="none of the 2 .npz files"):
        import_mcan_npz(tmp_path / "npz", tmp_path / "store")
    write_mcan_npz(tmp_path / "good", {1: 3})
    for max_boxes in (0, -2):
        with pytest.raises(VlkitError, match="--max-boxes must be at least 1"):
            import_mcan_npz(tmp_path / "good", tmp_path / "store", max_boxes=max_boxes)
    assert not (tmp_path / "store").exists()


def test_a_tsv_row_that_cannot_be_decoded_is_a_bad_item(tmp_path):
    def row(image_id, count, dim):
        return "\t".join([str(image_id), "640", "480", str(count),
                          base64.b64encode(np.zeros((count, 4), np.float32).tobytes()).decode(),
                          base64.b64encode(np.ones((count, dim), np.float32).tobytes()).decode()])

    tsv = tmp_path / "features.tsv"
    tsv.write_text("\n".join(["7\t640\t480\t2\tnot-base64\tnot-base64", row(8, 2, 6), row(9, 3, 4)]) + "\n")
    with pytest.raises(VlkitError, match=r"2 item\(s\) could not be read"):
        import_butd_tsv(tsv, tmp_path / "store")  # the width D comes from row 8; row 9 has another
    manifest = import_butd_tsv(tsv, tmp_path / "store", skip_bad=True)
    assert manifest["complete"] and manifest["skipped_ids"] == [7, 9] and manifest["rows_done"] == 1


def test_info_on_a_folder_without_the_store_arrays_is_one_error_line(tmp_path):
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "manifest.json").write_text(json.dumps({"kind": "grid"}))
    result = invoke_cli(["features", "info", str(tmp_path / "store")], cwd=tmp_path, check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == (f"error: {tmp_path / 'store'} is not a complete vlkit feature store: ids.npy, "
                                     "features.npy, num_boxes.npy, done.npy missing (rerun the extraction or import "
                                     "that made it)")


@pytest.mark.parametrize("settings, says", [
    (dict(grid=0), "--grid must be at least 1"),
    (dict(grid=-3), "--grid must be at least 1"),
    (dict(batch_size=0), "--batch-size must be at least 1"),
    (dict(workers=-1), "--workers must be 0 or more"),
    (dict(device="tpu"), "--device 'tpu'"),
    (dict(half="fp16"), "--half needs a GPU"),
    (dict(shard=(2, 2)), "--shard 2/2"),
])
def test_a_bad_extraction_setting_is_refused_before_any_image_is_read(tmp_path, settings, says):
    images = write_images(tmp_path / "images", 2)
    with pytest.raises(VlkitError, match=says):
        extract_image_features(images, tmp_path / "store", "resnet18", random_weights=True, **settings)
    assert not (tmp_path / "store").exists()


def test_a_gpu_device_on_a_machine_without_one_and_a_weights_file_that_is_not_a_checkpoint(tmp_path):
    import torch

    images = write_images(tmp_path / "images", 2)
    if not torch.cuda.is_available():
        with pytest.raises(VlkitError, match="this machine has no CUDA GPU"):
            extract_image_features(images, tmp_path / "store", "resnet18", random_weights=True, device="cuda")
    weights = tmp_path / "resnet18.pth"
    weights.write_text("these are not weights")
    with pytest.raises(VlkitError, match="resnet18.pth is not a resnet18 state_dict"):
        extract_image_features(images, tmp_path / "store", "resnet18", weights=weights)
    assert not (tmp_path / "store").exists()
