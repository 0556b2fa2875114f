"""The tutorial's prepared files (HDF5 images + CAPTIONS/CAPLENS/WORDMAP JSON) read through the captioning dataset,
with the tutorial CaptionDataset's items."""

import json
import pickle
import sys

import h5py
import numpy as np
import pytest
import torch

from vlkit.caption.data.dataset import open_caption_split
from vlkit.caption.data.word_map import WordMap
from vlkit.core.errors import VlkitError

BASE = "coco_2_cap_per_img_1_min_word_freq"


def write_tutorial_split(folder, split, images, captions, lengths, word_map, per_image=2, base=BASE):
    """The files create_input_files writes for one split: images (N, 3, S, S) uint8, captions (N*C, T), lengths."""
    folder.mkdir(parents=True, exist_ok=True)
    with h5py.File(folder / f"{split}_IMAGES_{base}.hdf5", "a") as handle:
        handle.attrs["captions_per_image"] = per_image
        handle.create_dataset("images", data=images, dtype="uint8")
    (folder / f"{split}_CAPTIONS_{base}.json").write_text(json.dumps(captions))
    (folder / f"{split}_CAPLENS_{base}.json").write_text(json.dumps(lengths))
    word_map.save(folder / f"WORDMAP_{base}.json")


@pytest.fixture
def tutorial_folder(tmp_path):
    word_map = WordMap.from_words(["a", "dog", "cat"])  # <unk> 4, <start> 5, <end> 6
    images = np.random.default_rng(0).integers(0, 256, (3, 3, 16, 16), dtype=np.uint8)
    captions = [[5, 1, 2, 6, 0], [5, 2, 6, 0, 0], [5, 3, 6, 0, 0], [5, 1, 3, 6, 0], [5, 4, 4, 4, 6], [5, 1, 6, 0, 0]]
    lengths = [4, 3, 3, 4, 5, 3]
    for split in ("TRAIN", "VAL"):
        write_tutorial_split(tmp_path, split, images, captions, lengths, word_map)
    return tmp_path, images, captions


def test_training_items_are_one_per_caption_with_the_image_of_caption_i_div_c(tutorial_folder):
    folder, images, captions = tutorial_folder
    dataset = open_caption_split(folder, "TRAIN")
    assert len(dataset) == 6
    image, caption, length = dataset[3]
    assert image.dtype == torch.uint8 and torch.equal(image, torch.from_numpy(images[1]))
    assert caption.tolist() == captions[3] and caption.dtype == torch.long and length.item() == 4


def test_validation_items_also_hold_all_captions_of_their_image(tutorial_folder):
    folder, images, captions = tutorial_folder
    image, caption, length, all_captions = open_caption_split(folder, "val", base=BASE)[5]
    assert torch.equal(image, torch.from_numpy(images[2])) and caption.tolist() == captions[5] and length.item() == 3
    assert all_captions.shape == (2, 5) and all_captions.tolist() == captions[4:6]


def test_the_dataset_pickles_for_workers_after_reading_and_reads_again(tutorial_folder):
    folder, images, _ = tutorial_folder
    dataset = open_caption_split(folder, "TRAIN")
    dataset[0]
    copy = pickle.loads(pickle.dumps(dataset))
    assert torch.equal(copy[5][0], torch.from_numpy(images[2]))


def test_without_h5py_the_error_says_to_install_it(tutorial_folder, monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(VlkitError, match="needs h5py: pip install h5py"):
        open_caption_split(tutorial_folder[0], "TRAIN")


def test_captions_that_do_not_match_the_image_count_are_an_error(tutorial_folder):
    folder = tutorial_folder[0]
    (folder / f"TRAIN_CAPLENS_{BASE}.json").write_text(json.dumps([4, 3, 3]))
    with pytest.raises(VlkitError, match=r"TRAIN has 3 images x 2 captions per image = 6, but 6 captions .* 3 lengths"):
        open_caption_split(folder, "TRAIN")


def test_a_missing_split_file_and_a_folder_without_one_wordmap_are_named(tutorial_folder, tmp_path):
    with pytest.raises(VlkitError, match=f"tutorial image file not found: .*TEST_IMAGES_{BASE}.hdf5"):
        open_caption_split(tutorial_folder[0], "TEST")
    with pytest.raises(VlkitError, match="expected one tutorial WORDMAP_<base>.json .* found none"):
        open_caption_split(tmp_path / "empty", "TRAIN")
