"""The captioning data module over a synthetic set made and prepared on first use: training batches of captions,
evaluation batches of images, and scoring that equals BLEU's known value on captions equal to a reference."""

from __future__ import annotations

import json
import os

import pytest
import torch

from vlkit.caption.data.module import CaptionDataModule, PreparedCaptionData
from vlkit.caption.data.synthetic_module import SyntheticCaptionData, SyntheticCaptionDataModule
from vlkit.caption.run_files import CaptionVocabularies
from vlkit.core.errors import VlkitError


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    options = SyntheticCaptionData(folder=str(tmp_path_factory.mktemp("synthetic")), n_train=20, n_val=6, n_test=4,
                                   image_size=32, batch_size=8, eval_batch_size=4)
    module = SyntheticCaptionDataModule(options, seed=0)
    module.setup("fit")
    return module


def test_synthetic_set_is_prepared_with_its_splits_and_reused_by_the_next_run(synthetic):
    folder = synthetic.folder()
    manifest_path = f"{folder}/manifest.json"
    manifest = json.loads(open(manifest_path).read())
    assert manifest["complete"] and manifest["splits"] == {"train": 20, "val": 6, "test": 4}
    assert synthetic.split_size("val") == 6 and synthetic.split_size("test") == 4
    assert synthetic.vocabularies.image_size == 32
    written = os.stat(manifest_path).st_mtime_ns
    again = SyntheticCaptionDataModule(synthetic.config, seed=0)
    assert again.folder() == folder and os.stat(manifest_path).st_mtime_ns == written


def test_training_batches_hold_captions_of_their_images(synthetic):
    batch = next(iter(synthetic.loader("train", training=True)))
    assert batch["images"].shape == (8, 3, 32, 32) and batch["images"].dtype == torch.uint8
    word_map = synthetic.word_map
    assert (batch["captions"][:, 0] == word_map.start).all()
    ends = batch["captions"].gather(1, (batch["lengths"] - 1)[:, None]).squeeze(1)
    assert (ends == word_map.end).all()
    assert len(synthetic.split("train")) == 100  # 20 images x 5 captions, one item each


def test_evaluation_batches_hold_each_image_once_in_split_order(synthetic):
    batches = list(synthetic.loader("val"))
    assert [b["index"].tolist() for b in batches] == [[0, 1, 2, 3], [4, 5]]
    assert set(batches[0]) == {"images", "index", "counted"}


def test_captions_equal_to_a_reference_score_bleu_4_of_one(synthetic):
    references = synthetic.references("test")
    word_map = synthetic.word_map
    rows = [word_map.indices(refs[0].split()) + [0] * 3 for refs in references]
    width = max(map(len, rows))
    predictions = torch.tensor([row + [0] * (width - len(row)) for row in rows])
    report = synthetic.score("test", predictions)
    assert report["Bleu_4"] == pytest.approx(1.0, abs=1e-6)
    assert report["images"] == 4


def test_prediction_rows_are_coco_results_with_the_image_ids(synthetic):
    predictions = torch.zeros(4, 3, dtype=torch.long)
    predictions[:, 0] = synthetic.word_map.stoi["a"]
    rows = synthetic.prediction_rows("test", predictions)
    assert rows == [{"image_id": i, "caption": "a"} for i in (26, 27, 28, 29)]


def test_a_run_whose_word_map_differs_from_the_data_is_refused(synthetic, tmp_path):
    other = synthetic.word_map.from_words(["zebra"])
    module = CaptionDataModule(PreparedCaptionData(folder=synthetic.folder(), batch_size=8), 0,
                               CaptionVocabularies(other, 32))
    with pytest.raises(VlkitError, match="word map .* differs"):
        module.setup("fit")


def test_a_missing_folder_setting_is_an_error_that_names_the_key():
    with pytest.raises(VlkitError, match="data.folder is not set"):
        CaptionDataModule(PreparedCaptionData(), 0).setup("fit")
