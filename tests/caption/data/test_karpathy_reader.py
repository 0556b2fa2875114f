"""Karpathy split files (COCO and Flickr layouts) read into typed records; other or broken files are one clear error."""

import json

import pytest

from caption_fixtures import write_karpathy
from vlkit.caption.data.karpathy import _checked_dataset, read_karpathy
from vlkit.core.errors import VlkitError


def test_coco_file_gives_cocoids_captions_and_paths_under_root_filepath_filename(tmp_path):
    path = write_karpathy(tmp_path, coco=True, images=False)
    dataset = read_karpathy(path, tmp_path / "images")
    assert dataset.name == "coco" and [i.image_id for i in dataset.images] == [1000, 1001, 1002, 1003]
    first = dataset.images[0]
    assert first.path == tmp_path / "images" / "train2014" / "COCO_train2014_000000001000.jpg"
    assert first.tokens == (("a", "dog", "runs"), ("a", "brown", "dog"), ("the", "dog", "runs", "fast"))
    assert first.raw[1] == "A brown dog ." and first.split == "train" and first.filepath == "train2014"


def test_flickr_file_gives_imgids_and_paths_under_root_filename(tmp_path):
    path = write_karpathy(tmp_path, coco=False, images=False)
    dataset = read_karpathy(path, "/data/flickr8k")
    assert dataset.name == "flickr8k" and [i.image_id for i in dataset.images] == [0, 1, 2, 3]
    assert str(dataset.images[2].path) == "/data/flickr8k/200_2abc.jpg" and dataset.images[2].filepath is None


def test_images_root_defaults_to_the_folder_of_the_file(tmp_path):
    dataset = read_karpathy(write_karpathy(tmp_path, coco=False, images=False))
    assert dataset.images[0].path == tmp_path / "000_0abc.jpg"


def test_restval_joins_train_by_default_and_stays_apart_when_separate(tmp_path):
    dataset = read_karpathy(write_karpathy(tmp_path, images=False))
    assert [i.image_id for i in dataset.split("train")] == [1000, 1001]
    assert [i.image_id for i in dataset.split("train", restval="separate")] == [1000]
    assert [i.image_id for i in dataset.split("restval", restval="separate")] == [1001]
    assert [i.image_id for i in dataset.split("test")] == [1003]
    with pytest.raises(VlkitError, match="unknown split 'restval'"):
        dataset.split("restval")


@pytest.mark.parametrize("content, named", [
    ({"info": {}, "questions": [{"image_id": 1, "question": "what?", "question_id": 10}]}, "a VQA questions file"),
    ({"annotations": [{"question_id": 10, "image_id": 1, "answers": []}]}, "a VQA annotations file"),
    ({"images": [{"id": 1, "file_name": "x.jpg"}], "annotations": [{"image_id": 1, "id": 5, "caption": "A dog."}]},
     "a COCO captions annotation file"),
])
def test_another_well_known_file_is_named_in_the_error(tmp_path, content, named):
    path = tmp_path / "given.json"
    path.write_text(json.dumps(content))
    with pytest.raises(VlkitError, match=f"given.json is {named}.*not a Karpathy split file"):
        read_karpathy(path)


def test_malformed_json_names_the_file_line_and_column(tmp_path):
    path = tmp_path / "dataset_coco.json"
    path.write_text('{"images": [\n  {"filename": "a.jpg",\n   "split": "train" "imgid": 0}]}')
    with pytest.raises(VlkitError, match=r"dataset_coco.json is not valid JSON: Expecting ',' delimiter at line 3 "
                                         r"column 21"):
        read_karpathy(path)


def test_a_record_lacking_a_key_is_named_with_its_position_and_file_name(tmp_path):
    path = write_karpathy(tmp_path, coco=True, images=False)
    data = json.loads(path.read_text())
    del data["images"][2]["cocoid"]
    path.write_text(json.dumps(data))
    with pytest.raises(VlkitError, match=r"images\[2\] \(COCO_val2014_000000001002.jpg\) lacks \['cocoid'\]"):
        read_karpathy(path)


def test_a_sentence_without_tokens_is_named(tmp_path):
    path = write_karpathy(tmp_path, coco=False, images=False)
    data = json.loads(path.read_text())
    del data["images"][1]["sentences"][4]["tokens"]
    path.write_text(json.dumps(data))
    with pytest.raises(VlkitError, match=r"images\[1\] \(100_1abc.jpg\) sentences\[4\] lacks 'tokens'"):
        read_karpathy(path)


def test_a_file_of_another_shape_says_what_was_expected_and_found(tmp_path):
    path = tmp_path / "list.json"
    path.write_text("[1, 2]")
    with pytest.raises(VlkitError, match="expected a Karpathy split file.*found a list"):
        read_karpathy(path)


def test_an_unknown_split_value_and_a_missing_file_are_errors(tmp_path):
    path = write_karpathy(tmp_path, coco=False, images=False)
    data = json.loads(path.read_text())
    data["images"][0]["split"] = "training"
    path.write_text(json.dumps(data))
    with pytest.raises(VlkitError, match=r"images\[0\] .* has split 'training'"):
        read_karpathy(path)
    with pytest.raises(VlkitError, match="Karpathy split file not found"):
        read_karpathy(tmp_path / "missing.json")


@pytest.mark.parametrize("coco", [True, False])
def test_the_typed_fast_path_reads_a_valid_file_as_the_record_by_record_checks_do(tmp_path, coco):
    path = write_karpathy(tmp_path, coco=coco, images=False)
    data = json.loads(path.read_text())
    del data["images"][0]["sentences"][1]["raw"]
    path.write_text(json.dumps(data))
    assert read_karpathy(path, tmp_path) == _checked_dataset(data, path, tmp_path)


def test_two_images_with_one_id_are_an_error_naming_both(tmp_path):
    path = write_karpathy(tmp_path, coco=False, images=False)
    data = json.loads(path.read_text())
    data["images"][3]["imgid"] = 1
    path.write_text(json.dumps(data))
    with pytest.raises(VlkitError, match="images '100_1abc.jpg' and '300_3abc.jpg' have the same image id 1"):
        read_karpathy(path)
