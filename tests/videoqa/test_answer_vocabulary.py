"""The answer vocabulary: HCRN's top-N rule with its tie order, the two unknown classes, the real MSVD-QA
class count, and saving/loading."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from vlkit.core.errors import VlkitError
from vlkit.videoqa.data.annotations import read_qa_split
from vlkit.videoqa.data.answer_vocabulary import UNKNOWN_EVAL, UNKNOWN_TRAIN, AnswerVocabulary

MSVD_QA = Path("/work/shared/data/msvd-qa")
needs_msvd_qa = pytest.mark.skipif(not (MSVD_QA / "test_qa.json").is_file(),
                                   reason=f"the real MSVD-QA annotations are not at {MSVD_QA}")

# counts b 3, a 2, c 2, d 1, e 1; first appearances b, a, c, d, e (c ties with a, e ties with d)
TRAIN_ANSWERS = ["b", "a", "c", "b", "a", "d", "c", "e", "b"]


@pytest.fixture(scope="module")
def msvd_qa() -> dict[str, list]:
    return {split: read_qa_split(MSVD_QA, split) for split in ("train", "val", "test")}


def test_unknown_class_indices_are_hcrns():
    assert (UNKNOWN_TRAIN, UNKNOWN_EVAL) == (0, 1)


def test_classes_are_the_unknowns_then_answers_by_count_with_ties_in_first_appearance_order():
    vocab = AnswerVocabulary.build(TRAIN_ANSWERS, top_n=4000)
    assert vocab.answers == ["<UNK0>", "<UNK1>", "b", "a", "c", "d", "e"]
    assert len(vocab) == 7


def test_top_n_keeps_the_most_frequent_and_breaks_a_tie_at_the_cut_by_first_appearance():
    assert AnswerVocabulary.build(TRAIN_ANSWERS, top_n=2).answers == ["<UNK0>", "<UNK1>", "b", "a"]
    assert AnswerVocabulary.build(TRAIN_ANSWERS, top_n=4).answers == ["<UNK0>", "<UNK1>", "b", "a", "c", "d"]


def test_an_answer_outside_the_classes_is_0_in_training_and_1_in_evaluation():
    vocab = AnswerVocabulary.build(TRAIN_ANSWERS, top_n=2)
    assert (vocab.encode("a", training=True), vocab.encode("a", training=False)) == (3, 3)
    assert (vocab.encode("c", training=True), vocab.encode("c", training=False)) == (0, 1)
    assert vocab.encode("<UNK1>", training=True) == 0


def test_encode_all_gives_int64_classes():
    encoded = AnswerVocabulary.build(TRAIN_ANSWERS, top_n=2).encode_all(["b", "x", "a"], training=False)
    assert encoded.dtype == np.int64
    assert encoded.tolist() == [2, 1, 3]


def test_decode_names_every_class_and_refuses_indices_outside():
    vocab = AnswerVocabulary.build(TRAIN_ANSWERS, top_n=2)
    assert [vocab.decode(i) for i in range(4)] == ["<UNK0>", "<UNK1>", "b", "a"]
    assert vocab.decode(np.int64(3)) == "a"
    for index in (4, -1):
        with pytest.raises(VlkitError, match=f"answer index {index} is outside the 4 answer classes"):
            vocab.decode(index)


def test_build_refuses_a_top_n_below_one():
    with pytest.raises(VlkitError, match="top_n must be a positive integer"):
        AnswerVocabulary.build(TRAIN_ANSWERS, top_n=0)


def test_build_refuses_no_answers():
    with pytest.raises(VlkitError, match="no train answers"):
        AnswerVocabulary.build([])


def test_build_refuses_an_answer_named_like_an_unknown_class():
    with pytest.raises(VlkitError, match=r"\['<UNK1>'\] are named like the unknown classes"):
        AnswerVocabulary.build(["a", "<UNK1>"])


def test_saved_vocabulary_loads_equal(tmp_path):
    vocab = AnswerVocabulary.build(TRAIN_ANSWERS + ["ça va", "naïve"])
    vocab.save(tmp_path / "answers.json")
    loaded = AnswerVocabulary.load(tmp_path / "answers.json")
    assert loaded == vocab and loaded.answers[-2:] == ["ça va", "naïve"]


def test_loading_a_missing_file_names_it(tmp_path):
    with pytest.raises(VlkitError, match="answer vocabulary .* file not found: .*answers.json"):
        AnswerVocabulary.load(tmp_path / "answers.json")


def test_loading_truncated_json_is_refused(tmp_path):
    AnswerVocabulary.build(TRAIN_ANSWERS).save(tmp_path / "answers.json")
    text = (tmp_path / "answers.json").read_text()
    (tmp_path / "answers.json").write_text(text[: len(text) // 2])
    with pytest.raises(VlkitError, match="is not valid JSON"):
        AnswerVocabulary.load(tmp_path / "answers.json")


def test_loading_a_file_of_another_kind_is_refused(tmp_path):
    (tmp_path / "vocab.json").write_text(json.dumps({"answer_token_to_idx": {"<UNK0>": 0, "<UNK1>": 1}}))
    with pytest.raises(VlkitError, match=r"is not a video QA answer vocabulary: .*found an object with keys "
                                         r"\['answer_token_to_idx'\]"):
        AnswerVocabulary.load(tmp_path / "vocab.json")


@pytest.mark.parametrize("answers, reason", [
    (["a", "<UNK1>", "b"], "must start with the unknown classes"),
    (["<UNK0>", "<UNK1>", "b", "b"], "must be unique; repeated: \\['b'\\]"),
    (["<UNK0>", "<UNK1>", "b", 7], "must be non-empty strings; found \\[7\\]"),
    (["<UNK0>", "<UNK1>"], "at least one answer"),
])
def test_loading_damaged_classes_is_refused_with_the_reason(tmp_path, answers, reason):
    (tmp_path / "answers.json").write_text(json.dumps({"kind": "vlkit video QA answers", "answers": answers}))
    with pytest.raises(VlkitError, match=f"is a damaged answer vocabulary: .*{reason}"):
        AnswerVocabulary.load(tmp_path / "answers.json")


@needs_msvd_qa
def test_msvd_qa_has_1854_classes_at_top_4000(msvd_qa):
    vocab = AnswerVocabulary.build([r.answer for r in msvd_qa["train"]], top_n=4000)
    assert len(vocab) == 1854


@needs_msvd_qa
def test_msvd_qa_most_frequent_answers_come_first(msvd_qa):
    counts = Counter(r.answer for r in msvd_qa["train"])
    vocab = AnswerVocabulary.build([r.answer for r in msvd_qa["train"]], top_n=10)
    assert [counts[answer] for answer in vocab.answers[2:]] == sorted(counts.values(), reverse=True)[:10]
    assert vocab.answers[2:4] == ["man", "woman"]


@needs_msvd_qa
@pytest.mark.parametrize("split", ["val", "test"])
def test_msvd_qa_eval_answers_outside_train_answers_map_to_class_1(msvd_qa, split):
    train_answers = {r.answer for r in msvd_qa["train"]}
    outside = sum(1 for r in msvd_qa[split] if r.answer not in train_answers)
    vocab = AnswerVocabulary.build([r.answer for r in msvd_qa["train"]], top_n=4000)
    encoded = vocab.encode_all([r.answer for r in msvd_qa[split]], training=False)
    assert outside > 0
    assert int((encoded == UNKNOWN_EVAL).sum()) == outside
    assert int((encoded == UNKNOWN_TRAIN).sum()) == 0


@needs_msvd_qa
def test_msvd_qa_classes_equal_hcrns_most_common_rule_with_a_cut_inside_a_tie(msvd_qa):
    counts: dict[str, int] = {}
    for record in msvd_qa["train"]:  # HCRN counts into a plain dict in file order, then Counter(...).most_common
        counts[record.answer] = counts.get(record.answer, 0) + 1
    reference = ["<UNK0>", "<UNK1>"] + [answer for answer, _ in Counter(counts).most_common(500)]
    assert counts[reference[-1]] == sorted(counts.values(), reverse=True)[500]  # the 500th and 501st tie
    assert AnswerVocabulary.build([r.answer for r in msvd_qa["train"]], top_n=500).answers == reference
