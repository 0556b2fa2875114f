"""Feature extraction (resumable, sharded, corrupt images) and region-feature import, via the CLI."""

import base64
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import torch
from PIL import Image
from torchvision import models

from conftest import invoke_cli
from vlkit.features.image import image_id_from_name
from vlkit.features.store import FeatureStore


def write_images(folder, count, size=48, start=1):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(start)
    for image_id in range(start, start + count):
        pixels = rng.integers(0, 256, size=(size, size + 8, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"COCO_val2014_{image_id:012d}.jpg")
    return folder


EXTRACT = ["features", "extract", "--model", "resnet18", "--grid", "2", "--random-weights", "--workers", "0"]


def arrays(path):
    store = FeatureStore(path)
    return {name: np.asarray(value) for name, value in store.arrays.items()}


def test_image_ids_from_coco_names():
    assert image_id_from_name("COCO_val2014_000000391895.jpg") == 391895
    assert image_id_from_name("COCO_val2014_000000391895.jpg.npz") == 391895
    assert image_id_from_name("17.png") == 17


def test_grid_features_equal_the_backbone_run_by_hand(tmp_path):
    images = write_images(tmp_path / "images", 3)
    result = invoke_cli([*EXTRACT, "--images", str(images), "--out", str(tmp_path / "store"), "--json"], cwd=tmp_path)
    assert json.loads(result.stdout)["extracted"] == 3
    store = FeatureStore(tmp_path / "store")
    info = json.loads(invoke_cli(["features", "info", str(tmp_path / "store"), "--json"], cwd=tmp_path).stdout)
    assert info["random_weights"] and info["grid"] == [2, 2] and info["rows_done"] == 3 and info["complete"]
    torch.manual_seed(0)  # what --random-weights records
    resnet = models.resnet18(weights=None).eval()
    image = Image.open(images / "COCO_val2014_000000000002.jpg").convert("RGB")
    # resize the shorter side to 64 / 0.875 = 73, centre-crop 64, ImageNet normalisation
    image = image.resize((int(round(73 * image.width / image.height)), 73), Image.BILINEAR)
    left, top = (image.width - 64) // 2, (image.height - 64) // 2
    pixels = torch.from_numpy(np.asarray(image.crop((left, top, left + 64, top + 64)), np.float32) / 255)
    pixels = (pixels - torch.tensor([0.485, 0.456, 0.406])) / torch.tensor([0.229, 0.224, 0.225])
    with torch.no_grad():
        body = torch.nn.Sequential(*list(resnet.children())[:-2])
        expected = body(pixels.permute(2, 0, 1)[None]).flatten(2).transpose(1, 2)[0].numpy()
    row = store.get([2])
    assert row.features.shape == (1, 4, 512) and row.mask.all()
    # the store keeps float16: within 1.5 units in the last place (rounding, plus a neighbour for float32
    # noise at a rounding boundary), i.e. 1.5 x 2^-10 relative; atol covers values near zero
    np.testing.assert_allclose(row.features[0].astype(np.float32), expected, rtol=1.5 * 2 ** -10, atol=1e-4)


def test_extraction_resumes_after_sigkill_and_matches_an_unbroken_run(tmp_path):
    images = write_images(tmp_path / "images", 40)
    invoke_cli([*EXTRACT, "--images", str(images), "--out", str(tmp_path / "whole"), "--batch-size", "2"], cwd=tmp_path)
    broken = tmp_path / "broken"
    process = subprocess.Popen([sys.executable, "-m", "vlkit", *EXTRACT, "--images", str(images), "--out",
                                str(broken), "--batch-size", "2"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.time() + 120
    done = 0
    while time.time() < deadline and process.poll() is None:
        if (broken / "done.npy").is_file():
            done = int(np.load(broken / "done.npy").sum())
            if done >= 6:
                break
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    partial = int(np.load(broken / "done.npy").sum())
    assert 0 < partial < 40, partial
    assert not json.loads((broken / "manifest.json").read_text())["complete"]
    result = invoke_cli([*EXTRACT, "--images", str(images), "--out", str(broken), "--json"], cwd=tmp_path)
    report = json.loads(result.stdout)
    assert report["skipped_done"] == partial and report["extracted"] == 40 - partial and report["complete"]
    for name, values in arrays(tmp_path / "whole").items():
        np.testing.assert_array_equal(arrays(broken)[name], values, err_msg=name)


def test_a_corrupt_image_leaves_the_store_incomplete_until_skip_bad_records_it(tmp_path):
    images = write_images(tmp_path / "images", 4)
    (images / "COCO_val2014_000000000003.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    args = [*EXTRACT, "--images", str(images), "--out", str(tmp_path / "store"), "--pooled"]
    failed = invoke_cli(args, cwd=tmp_path, check=False)
    assert failed.returncode == 2 and "COCO_val2014_000000000003.jpg" in failed.stderr
    assert "Traceback" not in failed.stderr and len(failed.stderr.strip().splitlines()[-1:]) == 1
    info = json.loads(invoke_cli(["features", "info", str(tmp_path / "store"), "--json"], cwd=tmp_path).stdout)
    assert not info["complete"] and info["failed_ids"] == [3] and info["skipped_ids"] == [] and info["rows_done"] == 3
    refused = invoke_cli(["features", "merge", str(tmp_path / "store"), str(tmp_path / "store"), "--out",
                          str(tmp_path / "merged")], cwd=tmp_path, check=False)
    assert refused.returncode == 2 and "is not complete" in refused.stderr

    report = json.loads(invoke_cli([*args, "--skip-bad", "--json"], cwd=tmp_path).stdout)
    assert report["complete"] and report["skipped_done"] == 3 and [i for i, _ in report["bad"]] == [3]
    store = FeatureStore(tmp_path / "store")
    assert store.manifest["skipped_ids"] == [3] and store.manifest["failed_ids"] == []
    assert store.has([1, 3]).tolist() == [True, False] and store.get([1]).features.shape == (1, 1, 512)
    shown = invoke_cli(["features", "info", str(tmp_path / "store")], cwd=tmp_path).stdout
    assert "skipped_ids: 1 [3]" in shown and "complete: True" in shown


def test_shards_merge_into_the_whole(tmp_path):
    images = write_images(tmp_path / "images", 7)
    invoke_cli([*EXTRACT, "--images", str(images), "--out", str(tmp_path / "whole")], cwd=tmp_path)
    for k in range(2):
        invoke_cli([*EXTRACT, "--images", str(images), "--out", str(tmp_path / "sharded"), "--shard", f"{k}/2"],
                   cwd=tmp_path)
    shards = [str(tmp_path / "sharded" / f"shard-{k}-of-2") for k in range(2)]
    assert len(FeatureStore(shards[0])) == 4 and len(FeatureStore(shards[1])) == 3
    invoke_cli(["features", "merge", *shards, "--out", str(tmp_path / "merged")], cwd=tmp_path)
    merged, whole = arrays(tmp_path / "merged"), arrays(tmp_path / "whole")
    assert merged.keys() == whole.keys()
    for name in whole:
        np.testing.assert_array_equal(merged[name], whole[name], err_msg=name)
    again = invoke_cli(["features", "merge", shards[0], shards[0], "--out", str(tmp_path / "x")], cwd=tmp_path,
                       check=False)
    assert again.returncode == 2 and "share image ids" in again.stderr


def test_missing_weights_say_where_to_put_them(tmp_path, monkeypatch):
    images = write_images(tmp_path / "images", 1)
    env_home = tmp_path / "torch-home"
    monkeypatch.setenv("TORCH_HOME", str(env_home))
    result = invoke_cli(["features", "extract", "--model", "resnet50", "--images", str(images), "--out",
                         str(tmp_path / "s")], cwd=tmp_path, check=False)
    assert result.returncode == 2 and "resnet50-0676ba61.pth" in result.stderr and "--random-weights" in result.stderr


def write_mcan_npz(folder, counts, dim=16):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    truth = {}
    for image_id, count in counts.items():
        x = rng.normal(size=(dim, count)).astype(np.float32)  # MCAN stores (D, N)
        bbox = rng.uniform(0, 300, size=(count, 4)).astype(np.float32)
        np.savez(folder / f"COCO_train2014_{image_id:012d}.jpg.npz", x=x, bbox=bbox, num_bbox=count,
                 image_h=375, image_w=500)
        truth[image_id] = (x.T, bbox)
    return truth


def test_mcan_npz_import(tmp_path):
    truth = write_mcan_npz(tmp_path / "npz", {9: 10, 25: 14, 30: 12})
    result = invoke_cli(["features", "import", "--format", "mcan-npz", "--src", str(tmp_path / "npz"), "--out",
                         str(tmp_path / "store"), "--max-boxes", "12", "--json"], cwd=tmp_path)
    assert json.loads(result.stdout)["complete"]
    store = FeatureStore(tmp_path / "store")
    batch = store.get([25, 9])
    assert batch.features.shape == (2, 12, 16)
    assert batch.num_boxes.tolist() == [12, 10]  # 14 boxes cut to --max-boxes
    np.testing.assert_allclose(batch.features[0].astype(np.float32), truth[25][0][:12], atol=1e-2)
    np.testing.assert_allclose(batch.boxes[1, :10], truth[9][1])
    assert batch.image_size.tolist() == [[375, 500], [375, 500]]
    (tmp_path / "npz" / "COCO_train2014_000000000031.jpg.npz").write_bytes(b"PK\x03\x04 broken")
    bad = invoke_cli(["features", "import", "--format", "mcan-npz", "--src", str(tmp_path / "npz"), "--out",
                      str(tmp_path / "store2")], cwd=tmp_path, check=False)
    assert bad.returncode == 2 and "000000000031" in bad.stderr


def test_butd_tsv_import(tmp_path):
    rng = np.random.default_rng(1)
    lines, truth = [], {}
    for image_id, count in ((100, 3), (5, 4)):
        boxes = rng.uniform(0, 200, size=(count, 4)).astype(np.float32)
        features = rng.normal(size=(count, 8)).astype(np.float32)
        truth[image_id] = (features, boxes)
        lines.append("\t".join([str(image_id), "640", "480", str(count), base64.b64encode(boxes.tobytes()).decode(),
                                base64.b64encode(features.tobytes()).decode()]))
    tsv = tmp_path / "trainval_resnet101_faster_rcnn_genome_36.tsv"
    tsv.write_text("\n".join(lines) + "\n")
    invoke_cli(["features", "import", "--format", "butd-tsv", "--src", str(tsv), "--out", str(tmp_path / "store"),
                "--max-boxes", "4"], cwd=tmp_path)
    batch = FeatureStore(tmp_path / "store").get([5, 100])
    assert batch.num_boxes.tolist() == [4, 3]
    np.testing.assert_allclose(batch.features[1, :3].astype(np.float32), truth[100][0], atol=1e-2)
    np.testing.assert_allclose(batch.boxes[0], truth[5][1])
    assert batch.image_size.tolist() == [[480, 640], [480, 640]]


def test_stores_of_different_folders_merge(tmp_path):
    train = write_images(tmp_path / "train2014", 3, start=1)
    val = write_images(tmp_path / "val2014", 2, start=100)
    for folder in (train, val):
        invoke_cli([*EXTRACT, "--pooled", "--images", str(folder), "--out", str(tmp_path / folder.name)], cwd=tmp_path)
    invoke_cli(["features", "merge", str(tmp_path / "train2014"), str(tmp_path / "val2014"), "--out",
                str(tmp_path / "all")], cwd=tmp_path)
    merged = FeatureStore(tmp_path / "all")
    assert merged.ids.tolist() == [1, 2, 3, 100, 101] and merged.manifest["complete"]
    assert len(merged.manifest["source"]) == 2
