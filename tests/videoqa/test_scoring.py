"""Video QA accuracy: a hand-scored file, class-index scoring with the unknown classes, the real MSVD-QA
test split's question types, and every refused predictions file."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from vlkit.core.errors import VlkitError
from vlkit.videoqa.data.annotations import read_qa_file, read_qa_split
from vlkit.videoqa.data.answer_vocabulary import AnswerVocabulary
from vlkit.videoqa.metrics import score_answers, score_indices, score_prediction_files

MSVD_QA = Path("/work/shared/data/msvd-qa")
needs_msvd_qa = pytest.mark.skipif(not (MSVD_QA / "test_qa.json").is_file(),
                                   reason=f"the real MSVD-QA annotations are not at {MSVD_QA}")

# six questions, four answered right: what 1/2, who 2/2, how 0/1, where 1/1 -> 4/6 = 66.67 %
QUESTIONS = [
    {"id": 1, "video_id": 7, "question": "what is a man playing", "answer": "guitar"},
    {"id": 2, "video_id": 7, "question": "What is the cat eating", "answer": "fish"},
    {"id": 3, "video_id": 8, "question": "who is dancing", "answer": "woman"},
    {"id": 4, "video_id": 8, "question": "who is cooking", "answer": "man"},
    {"id": 5, "video_id": 9, "question": "how many dogs run", "answer": "two"},
    {"id": 6, "video_id": 9, "question": "where is the man", "answer": "kitchen"},
]
PREDICTED = ["guitar", "meat", "woman", "man", "three", "kitchen"]
HAND_REPORT = {
    "accuracy": 66.67,
    "per_type": {"what": 50.0, "who": 100.0, "how": 0.0, "where": 100.0},
    "num_questions": 6,
    "per_type_count": {"what": 2, "who": 2, "how": 1, "where": 1},
}


@pytest.fixture
def annotations(tmp_path) -> Path:
    path = tmp_path / "test_qa.json"
    path.write_text(json.dumps(QUESTIONS))
    return path


def write_predictions(path: Path, rows: object) -> Path:
    path.write_text(json.dumps(rows))
    return path


def refused(annotations: Path, rows: object) -> str:
    """The message of the error scoring `rows` as predictions against `annotations`."""
    predictions = write_predictions(annotations.with_name("predictions.json"), rows)
    with pytest.raises(VlkitError) as error:
        score_prediction_files(annotations, predictions)
    return str(error.value)


def test_hand_scored_answers_give_the_hand_computed_report(annotations):
    assert score_answers(read_qa_file(annotations), PREDICTED) == HAND_REPORT


def test_per_type_keys_come_in_the_papers_order(annotations):
    assert list(score_answers(read_qa_file(annotations), PREDICTED)["per_type"]) == ["what", "who", "how", "where"]


def test_prediction_file_in_any_order_gives_the_hand_computed_report(annotations, tmp_path):
    rows = [{"id": q["id"], "answer": answer} for q, answer in zip(QUESTIONS, PREDICTED)][::-1]
    assert score_prediction_files(annotations, write_predictions(tmp_path / "p.json", rows)) == HAND_REPORT


def test_answers_are_compared_exactly_as_written(annotations):
    records = read_qa_file(annotations)
    assert score_answers(records, ["Guitar"] + [q["answer"] for q in QUESTIONS[1:]])["accuracy"] == 83.33


def test_index_scoring_counts_a_gold_unknown_class_wrong_even_when_predicted():
    # gold 2 right, gold 3 wrong (4), gold 1 and gold 0 "predicted" but unknown, gold 4 right: 2/5
    report = score_indices(np.array([2, 4, 1, 0, 4]), np.array([2, 3, 1, 0, 4]),
                           ["what", "what", "who", "who", "how"])
    assert report == {"accuracy": 40.0, "per_type": {"what": 50.0, "who": 0.0, "how": 100.0},
                      "num_questions": 5, "per_type_count": {"what": 2, "who": 2, "how": 1}}


def test_index_scoring_takes_tensors():
    report = score_indices(torch.tensor([5, 6, 7]), torch.tensor([5, 6, 8]), ["when", "when", "when"])
    assert report["accuracy"] == 66.67 and report["per_type"] == {"when": 66.67}


def test_index_scoring_refuses_mismatched_lengths():
    with pytest.raises(VlkitError, match=r"predicted classes \(3,\) and gold classes \(2,\)"):
        score_indices(np.array([2, 3, 4]), np.array([2, 3]), ["what"] * 3)


def test_answer_scoring_refuses_a_wrong_number_of_answers(annotations):
    with pytest.raises(VlkitError, match="5 predicted answers for 6 questions"):
        score_answers(read_qa_file(annotations), PREDICTED[:5])


def test_missing_predictions_are_named(annotations):
    rows = [{"id": q["id"], "answer": "man"} for q in QUESTIONS[:4]]
    assert "ids 2 missing (e.g. [5, 6])" in refused(annotations, rows)


def test_repeated_predictions_are_named(annotations):
    rows = [{"id": q["id"], "answer": "man"} for q in QUESTIONS] + [{"id": 3, "answer": "woman"}]
    assert "ids 1 repeated (e.g. [3])" in refused(annotations, rows)


def test_predictions_for_unknown_ids_are_named(annotations):
    rows = [{"id": q["id"], "answer": "man"} for q in QUESTIONS] + [{"id": 99, "answer": "man"}]
    assert "ids 1 unknown (e.g. [99])" in refused(annotations, rows)


def test_predictions_for_another_split_are_recognised(annotations):
    rows = [{"id": 100 + q["id"], "answer": "man"} for q in QUESTIONS]
    assert "answers none of the 6 questions" in refused(annotations, rows)


def test_a_class_index_as_answer_is_refused(annotations):
    rows = [{"id": q["id"], "answer": 2} for q in QUESTIONS]
    assert "row 0 has answer 2 (int), not a string" in refused(annotations, rows)


def test_a_predictions_row_without_id_is_refused(annotations):
    message = refused(annotations, [{"question_id": 1, "answer": "guitar"}])
    assert "row 0 lacks 'id' (it has ['answer', 'question_id'])" in message


def test_a_predictions_object_instead_of_a_list_is_refused(annotations):
    assert "found an object with keys ['1']" in refused(annotations, {"1": "guitar"})


def test_a_missing_predictions_file_is_named(annotations, tmp_path):
    with pytest.raises(VlkitError, match="predictions file .* not found: .*nothing.json"):
        score_prediction_files(annotations, tmp_path / "nothing.json")


@pytest.fixture(scope="module")
def msvd_qa_test() -> list:
    return read_qa_split(MSVD_QA, "test")


@needs_msvd_qa
def test_msvd_qa_test_split_question_types_are_counted_by_first_word(msvd_qa_test):
    counts: Counter[str] = Counter()
    for record in msvd_qa_test:
        counts[record.question.split()[0].lower()] += 1
    report = score_answers(msvd_qa_test, [r.answer for r in msvd_qa_test])
    assert set(counts) == {"what", "who", "how", "when", "where"}
    assert report["per_type_count"] == dict(counts)
    assert report["num_questions"] == 13157
    assert report["accuracy"] == 100.0


@needs_msvd_qa
def test_msvd_qa_answering_man_everywhere_scores_the_share_of_man(msvd_qa_test):
    man = sum(1 for r in msvd_qa_test if r.answer == "man")
    assert score_answers(msvd_qa_test, ["man"] * len(msvd_qa_test))["accuracy"] == round(100 * man / 13157, 2)


@needs_msvd_qa
def test_msvd_qa_oracle_classes_lose_exactly_the_answers_outside_train(msvd_qa_test):
    train = read_qa_split(MSVD_QA, "train")
    train_answers = {r.answer for r in train}
    outside = sum(1 for r in msvd_qa_test if r.answer not in train_answers)
    gold = AnswerVocabulary.build([r.answer for r in train]).encode_all([r.answer for r in msvd_qa_test],
                                                                        training=False)
    types = [r.question.split()[0].lower() for r in msvd_qa_test]
    report = score_indices(gold.copy(), gold, types)
    assert report["accuracy"] == round(100 * (13157 - outside) / 13157, 2)
