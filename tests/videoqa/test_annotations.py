"""MSVD-QA / MSRVTT-QA question files: the real MSVD-QA splits, hand-made files, and every refused file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vlkit.core.errors import VlkitError
from vlkit.videoqa.data.annotations import QARecord, question_type, read_qa_file, read_qa_split

MSVD_QA = Path("/work/shared/data/msvd-qa")
needs_msvd_qa = pytest.mark.skipif(not (MSVD_QA / "test_qa.json").is_file(),
                                   reason=f"the real MSVD-QA annotations are not at {MSVD_QA}")

ROWS = [
    {"answer": "guitar", "id": 10, "question": "what is a man playing", "video_id": 3},
    {"answer": "woman", "id": 11, "question": "who is dancing", "video_id": 3, "category_id": 2},
]


def write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data))
    return path


def refused(path: Path) -> str:
    """The message of the error reading `path`."""
    with pytest.raises(VlkitError) as error:
        read_qa_file(path)
    return str(error.value)


@needs_msvd_qa
def test_msvd_qa_splits_have_the_published_sizes():
    sizes = {split: len(read_qa_split(MSVD_QA, split)) for split in ("train", "val", "test")}
    assert sizes == {"train": 30933, "val": 6415, "test": 13157}


@needs_msvd_qa
def test_msvd_qa_records_equal_the_file_rows():
    rows = json.loads((MSVD_QA / "val_qa.json").read_text())
    records = read_qa_split(MSVD_QA, "val")
    assert [(r.id, r.video_id, r.question, r.answer) for r in records] == \
        [(row["id"], row["video_id"], row["question"], row["answer"]) for row in rows]


def test_hand_made_file_reads_in_file_order_and_ignores_extra_keys(tmp_path):
    records = read_qa_file(write_json(tmp_path / "train_qa.json", ROWS))
    assert records == [QARecord(10, 3, "what is a man playing", "guitar"), QARecord(11, 3, "who is dancing", "woman")]


def test_question_type_is_the_lower_cased_first_word():
    assert question_type("What is a man playing") == "what"
    assert question_type("  Who's dancing?") == "who"
    assert question_type("where is the cat") == "where"
    with pytest.raises(VlkitError, match="no words"):
        question_type("?")


def test_missing_file_is_refused(tmp_path):
    assert "not found" in refused(tmp_path / "test_qa.json")


def test_malformed_json_is_refused_with_its_line(tmp_path):
    path = tmp_path / "test_qa.json"
    path.write_text('[{"answer": "a",\n "id": }]')
    message = refused(path)
    assert "not valid JSON" in message and "line 2" in message


def test_a_top_level_object_is_refused_with_its_keys(tmp_path):
    message = refused(write_json(tmp_path / "test_qa.json", {"data": ROWS}))
    assert "expected a JSON list" in message and "['data']" in message


def test_an_empty_list_is_refused(tmp_path):
    assert "lists no questions" in refused(write_json(tmp_path / "test_qa.json", []))


def test_a_row_that_is_not_an_object_is_refused_with_its_index(tmp_path):
    assert "row 1 is a list" in refused(write_json(tmp_path / "test_qa.json", [ROWS[0], ["a", 1]]))


def test_a_row_missing_a_key_is_refused_with_its_index_and_the_key(tmp_path):
    row = {key: value for key, value in ROWS[1].items() if key != "video_id"}
    message = refused(write_json(tmp_path / "test_qa.json", [ROWS[0], row]))
    assert "row 1 lacks 'video_id'" in message


def test_a_string_id_is_refused(tmp_path):
    message = refused(write_json(tmp_path / "test_qa.json", [ROWS[0], {**ROWS[1], "id": "11"}]))
    assert "row 1 has id '11' (str), not an integer" in message


def test_a_boolean_video_id_is_refused(tmp_path):
    assert "has video_id True (bool)" in refused(write_json(tmp_path / "test_qa.json", [{**ROWS[0], "video_id": True}]))


def test_a_question_that_is_not_a_string_is_refused(tmp_path):
    message = refused(write_json(tmp_path / "test_qa.json", [{**ROWS[0], "question": ["what"]}]))
    assert "row 0 has question ['what'] (list), not a string" in message


def test_an_empty_question_is_refused(tmp_path):
    message = refused(write_json(tmp_path / "test_qa.json", [ROWS[0], {**ROWS[1], "question": " ? "}]))
    assert "row 1 (id 11) has an empty question" in message


def test_an_empty_answer_is_refused(tmp_path):
    assert "has an empty answer" in refused(write_json(tmp_path / "test_qa.json", [{**ROWS[0], "answer": "  "}]))


def test_duplicate_ids_are_refused_naming_them_and_their_rows(tmp_path):
    rows = [ROWS[0], ROWS[1], {**ROWS[1], "id": 10}]
    message = refused(write_json(tmp_path / "test_qa.json", rows))
    assert "1 question id(s) appear more than once (id 10 at rows 0, 2)" in message


def test_a_vqa_questions_file_is_named(tmp_path):
    data = {"info": {}, "license": {}, "questions": [{"question_id": 1, "image_id": 2, "question": "what?"}]}
    message = refused(write_json(tmp_path / "v2_questions.json", data))
    assert "is a VQA questions file" in message and "not a video QA question file" in message


def test_a_vqa_annotations_file_is_named(tmp_path):
    data = {"info": {}, "license": {}, "annotations": [{"question_id": 1, "answers": []}]}
    assert "is a VQA annotations file" in refused(write_json(tmp_path / "v2_annotations.json", data))


def test_a_coco_captions_file_is_named(tmp_path):
    data = {"info": {}, "images": [], "annotations": [{"image_id": 1, "id": 2, "caption": "a cat"}]}
    assert "is a COCO captions file" in refused(write_json(tmp_path / "captions_val2014.json", data))


def test_a_karpathy_split_file_is_named(tmp_path):
    data = {"dataset": "coco", "images": [{"filename": "a.jpg", "sentences": []}]}
    assert "is a Karpathy split file" in refused(write_json(tmp_path / "dataset_coco.json", data))


def test_read_qa_split_refuses_an_unknown_split(tmp_path):
    with pytest.raises(VlkitError, match="unknown video QA split 'dev'; expected one of train, val, test"):
        read_qa_split(tmp_path, "dev")


def test_read_qa_split_names_the_missing_file(tmp_path):
    with pytest.raises(VlkitError, match="test split not found: .*test_qa.json"):
        read_qa_split(tmp_path, "test")
