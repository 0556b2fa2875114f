"""prepare_karpathy: captions, word map and 256x256 images in a memory-mapped folder; resumable after a kill;
unreadable images named or skipped; read through the same dataset as the tutorial's files."""

import json
import random

import numpy as np
import pytest
import torch

from caption_fixtures import write_karpathy
from test_tutorial_files import write_tutorial_split
from vlkit.caption.data import prepare as prepare_module
from vlkit.caption.data.dataset import open_caption_split
from vlkit.caption.data.encoding import encode_images
from vlkit.caption.data.karpathy import read_karpathy
from vlkit.caption.data.prepare import prepare_karpathy
from vlkit.caption.data.prepared import read_prepared
from vlkit.caption.data.word_map import WordMap, build_word_map
from vlkit.core.errors import VlkitError
from vlkit.vision.images import load_rgb

SETTINGS = dict(min_word_freq=0, word_counting="tutorial", captions_per_image=3, max_len=6, seed=2, image_size=32,
                progress=False, workers=2)


class Killed(Exception):
    """Stands for a kill at that moment."""


@pytest.fixture
def karpathy(tmp_path):
    return write_karpathy(tmp_path / "coco", coco=True)


def prepared_arrays(directory):
    """Every file of a prepared folder (the manifest without its timestamps), to compare two preparations."""
    manifest = json.loads((directory / "manifest.json").read_text())
    files = {path.relative_to(directory).as_posix(): np.load(path) for path in directory.rglob("*.npy")}
    texts = {path.relative_to(directory).as_posix(): path.read_text() for path in directory.rglob("*.json")
             if path.name != "manifest.json"}
    return manifest, files, texts


def test_preparation_writes_the_word_map_encoded_captions_references_and_resized_images(karpathy, tmp_path):
    manifest = prepare_karpathy(karpathy, karpathy.parent / "images", tmp_path / "out", **SETTINGS)
    assert manifest["complete"] and manifest["splits"] == {"train": 2, "val": 1, "test": 1}
    dataset = read_karpathy(karpathy, karpathy.parent / "images")
    word_map = build_word_map(dataset, 0, "tutorial")
    assert WordMap.load(tmp_path / "out" / "word_map.json") == word_map
    rng = random.Random(2)
    for split in ("train", "val", "test"):
        images = dataset.split(split)
        captions, lengths = encode_images(images, word_map, 3, 6, "drop", rng)
        data = read_prepared(tmp_path / "out", split)
        np.testing.assert_array_equal(data.captions, captions)
        np.testing.assert_array_equal(data.lengths, lengths)
        np.testing.assert_array_equal(data.image_ids, [image.image_id for image in images])
        assert data.references == [[" ".join(tokens) for tokens in image.tokens] for image in images]
        for row, image in enumerate(images):
            np.testing.assert_array_equal(data.images[row], load_rgb(image.path, 32).transpose(2, 0, 1))
    # one generator draws the captions of train, val, then test (the tutorial's single seed(123))
    fresh = encode_images(dataset.split("val"), word_map, 3, 6, "drop", random.Random(2))[0]
    assert not np.array_equal(read_prepared(tmp_path / "out", "val").captions, fresh)
    # the 8-token test caption is longer than max_len 6: the test image's 3 captions are all "a fish"
    assert read_prepared(tmp_path / "out", "test").lengths.tolist() == [[4, 4, 4]]


def test_restval_separate_prepares_it_as_its_own_split(karpathy, tmp_path):
    manifest = prepare_karpathy(karpathy, karpathy.parent / "images", tmp_path / "out", restval="separate", **SETTINGS)
    assert manifest["splits"] == {"train": 1, "restval": 1, "val": 1, "test": 1}
    assert read_prepared(tmp_path / "out", "restval").image_ids.tolist() == [1001]


def test_a_preparation_killed_midway_resumes_to_the_same_files_as_an_uninterrupted_one(karpathy, tmp_path, monkeypatch):
    prepare_karpathy(karpathy, karpathy.parent / "images", tmp_path / "whole", **SETTINGS)
    monkeypatch.setattr(prepare_module, "ROWS_PER_FLUSH", 1)
    decoded = []

    def dies_after_two(path, size):
        if len(decoded) == 2:
            raise Killed
        decoded.append(path)
        return load_rgb(path, size)

    monkeypatch.setattr(prepare_module, "load_rgb", dies_after_two)
    with pytest.raises(Killed):
        prepare_karpathy(karpathy, karpathy.parent / "images", tmp_path / "resumed", **{**SETTINGS, "workers": 1})
    manifest = json.loads((tmp_path / "resumed" / "manifest.json").read_text())
    assert not manifest["complete"]
    assert np.load(tmp_path / "resumed" / "train" / "done.npy").tolist() == [True, True]
    with pytest.raises(VlkitError, match="not completely prepared"):
        open_caption_split(tmp_path / "resumed", "train")
    monkeypatch.setattr(prepare_module, "ROWS_PER_FLUSH", 64)
    decoded.clear()
    prepare_karpathy(karpathy, karpathy.parent / "images", tmp_path / "resumed", **SETTINGS)
    assert len(decoded) == 2  # only the two images not done yet
    whole, resumed = prepared_arrays(tmp_path / "whole"), prepared_arrays(tmp_path / "resumed")
    assert {k: v for k, v in resumed[0].items() if k != "source"} == {k: v for k, v in whole[0].items() if k != "source"}
    assert resumed[1].keys() == whole[1].keys() and resumed[2] == whole[2]
    for name, array in whole[1].items():
        np.testing.assert_array_equal(resumed[1][name], array, err_msg=name)


def test_a_kill_while_pixels_are_flushed_leaves_no_row_marked_done(karpathy, tmp_path, monkeypatch):
    flush = np.memmap.flush

    def killed_during_image_flush(array):
        if array.ndim == 4:  # the (N, 3, S, S) image array
            raise Killed
        flush(array)

    monkeypatch.setattr(prepare_module, "ROWS_PER_FLUSH", 1)
    writer = prepare_module.PreparedWriter(tmp_path / "out", read_karpathy(karpathy, karpathy.parent / "images"),
                                           {"min_word_freq": 1, "captions_per_image": 3, "max_len": 6,
                                            "long_captions": "drop", "restval": "train", "word_counting": "train",
                                            "seed": 5}, 32)
    monkeypatch.setattr(np.memmap, "flush", killed_during_image_flush)
    with pytest.raises(Killed):
        writer.fill(workers=1, progress=False)
    monkeypatch.undo()
    assert not np.load(tmp_path / "out" / "train" / "done.npy").any()


def test_a_corrupt_image_is_an_error_naming_the_file_and_the_folder_stays_incomplete(karpathy, tmp_path):
    corrupt = karpathy.parent / "images" / "val2014" / "COCO_val2014_000000001002.jpg"
    corrupt.write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(VlkitError, match=r"1 item\(s\) could not be read \(cannot decode image .*"
                                         r"COCO_val2014_000000001002.jpg.*skip-bad"):
        prepare_karpathy(karpathy, karpathy.parent / "images", tmp_path / "out", **SETTINGS)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert (manifest["complete"], manifest["failed_ids"], manifest["rows_done"]) == (False, [1002], 3)
    with pytest.raises(VlkitError, match=r"not completely prepared .*images \[1002\] could not be read"):
        open_caption_split(tmp_path / "out", "train")


def test_skip_bad_records_the_skipped_image_the_dataset_leaves_it_out_and_a_rerun_fills_it(karpathy, tmp_path):
    (karpathy.parent / "images" / "train2014" / "COCO_train2014_000000001000.jpg").unlink()
    manifest = prepare_karpathy(karpathy, karpathy.parent / "images", tmp_path / "out", skip_bad=True, **SETTINGS)
    assert (manifest["complete"], manifest["skipped_ids"], manifest["failed_ids"]) == (True, [1000], [])
    dataset = open_caption_split(tmp_path / "out", "train")
    data = read_prepared(tmp_path / "out", "train")
    assert len(dataset) == 3 and [dataset.image_row(i) for i in range(3)] == [1, 1, 1]
    assert torch.equal(dataset[0][0], torch.from_numpy(data.images[1]))
    write_karpathy(karpathy.parent, coco=True)  # the image is back: a rerun fills its row and forgets the skip
    manifest = prepare_karpathy(karpathy, karpathy.parent / "images", tmp_path / "out", skip_bad=True, **SETTINGS)
    assert (manifest["complete"], manifest["skipped_ids"], manifest["rows_done"]) == (True, [], 4)
    assert len(open_caption_split(tmp_path / "out", "train")) == 6


def test_resuming_with_other_settings_is_an_error(karpathy, tmp_path):
    prepare_karpathy(karpathy, karpathy.parent / "images", tmp_path / "out", **SETTINGS)
    with pytest.raises(VlkitError, match=r"holds another preparation .*\['settings'\]"):
        prepare_karpathy(karpathy, karpathy.parent / "images", tmp_path / "out", **{**SETTINGS, "max_len": 7})


def test_settings_are_checked_before_any_file_is_read(tmp_path):
    with pytest.raises(VlkitError, match="long_captions must be one of drop, truncate, got 'cut'"):
        prepare_karpathy(tmp_path / "missing.json", tmp_path, tmp_path / "out", long_captions="cut")
    with pytest.raises(VlkitError, match="captions_per_image must be an integer of at least 1, got 0"):
        prepare_karpathy(tmp_path / "missing.json", tmp_path, tmp_path / "out", captions_per_image=0)


def test_prepared_and_tutorial_files_of_the_same_data_give_the_same_items(karpathy, tmp_path):
    prepare_karpathy(karpathy, karpathy.parent / "images", tmp_path / "out", **SETTINGS)
    for split in ("train", "val"):
        data = read_prepared(tmp_path / "out", split)
        n, c, t = data.captions.shape
        write_tutorial_split(tmp_path / "tutorial", split.upper(), np.stack([data.images[r] for r in range(n)]),
                             data.captions.reshape(n * c, t).tolist(), data.lengths.reshape(-1).tolist(),
                             data.word_map, per_image=c)
        prepared = open_caption_split(tmp_path / "out", split)
        tutorial = open_caption_split(tmp_path / "tutorial", split.upper())
        assert len(prepared) == len(tutorial) == n * c
        for index in range(len(prepared)):
            expected = tutorial[index]
            assert len(prepared[index]) == len(expected) == (3 if split == "train" else 4)
            for mine, theirs in zip(prepared[index], expected):
                assert mine.dtype == theirs.dtype and torch.equal(mine, theirs)
