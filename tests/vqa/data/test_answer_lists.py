"""Answer vocabularies, coverage and soft targets on hand-built annotations."""

import pytest

from vlkit.vqa.data.answer_lists import (coverage, mcan_answer, mcan_answer_vocab, pytorch_vqa_answer,
                                         pytorch_vqa_answer_vocab, soft_targets)
from vlkit.vqa.data.official_files import VQAAnnotation
from vlkit.vqa.metrics.normalization import normalize_answer
from vlkit.vqa.metrics.official import HumanAnswers


def humans(*texts):
    return HumanAnswers(tuple(texts), tuple(range(1, len(texts) + 1)), ("yes",) * len(texts))


def annotation(qid, majority, *texts):
    return VQAAnnotation(qid, qid, "what", "other", majority, humans(*(texts or (majority,) * 10)))


def test_mcan_and_pytorch_vqa_normalisation():
    assert mcan_answer("1,000") == "1000"
    assert mcan_answer("red, white") == "red white"  # MCAN drops every comma left over
    assert normalize_answer("red, white") == "red white"
    assert mcan_answer("Two Dogs") == "2 dogs"
    assert pytorch_vqa_answer("Two Dogs") == "Two Dogs"  # punctuation only, no case or number rules
    assert pytorch_vqa_answer("black-and-white") == "black and white"
    assert pytorch_vqa_answer("left / right") == "left  right"
    assert pytorch_vqa_answer("1,000") == "1000"
    assert pytorch_vqa_answer("U.S.A.") == "U.S.A."  # no listed mark: returned as it is, periods included
    assert pytorch_vqa_answer("U.S.A.!") == "USA"  # a listed mark: periods go too


def test_mcan_vocab_keeps_answers_seen_more_than_8_times_in_first_appearance_order():
    annotations = ([annotation(i, "Two") for i in range(9)] + [annotation(100 + i, "red") for i in range(8)]
                   + [annotation(200 + i, "a dog") for i in range(10)])
    assert mcan_answer_vocab(annotations) == ["2", "dog"]  # "red" is seen 8 times: not more than 8


def test_pytorch_vqa_vocab_counts_all_human_answers_and_sorts_by_count_then_answer_descending():
    annotations = [annotation(1, "yes", *["yes"] * 6, *["no"] * 4), annotation(2, "b", *["b"] * 5, *["a"] * 5)]
    assert pytorch_vqa_answer_vocab(annotations) == ["yes", "b", "a", "no"]
    assert pytorch_vqa_answer_vocab(annotations, top_k=2) == ["yes", "b"]  # counts 6 and 5 ("a" ties "b")


def targets_of(kind, answers, *texts):
    """{answer: target} of one question whose human answers are `texts`."""
    offsets, columns, scores = soft_targets([annotation(1, texts[0], *texts)], answers, kind)
    assert offsets.tolist() == [0, len(columns)]
    return {answers[c]: pytest.approx(float(s)) for c, s in zip(columns.tolist(), scores.tolist())}


@pytest.mark.parametrize("count, expected", [(1, 0.3), (2, 0.6), (3, 0.9), (4, 1.0), (7, 1.0)])
def test_mcan_targets_are_0_3_per_human_up_to_1(count, expected):
    assert targets_of("mcan", ["cat", "dog"], *["cat"] * count, *["dog"] * (10 - count))["cat"] == expected


def test_mcan_targets_normalise_human_answers_and_skip_unlisted_ones():
    # "Two" and "two " both normalise to "2"; "zebra" is not in the list and gets no target
    assert targets_of("mcan", ["2", "3"], "Two", "two ", "2", "3", *["zebra"] * 6) == {"2": 0.9, "3": 0.3}


def test_pytorch_vqa_targets_are_the_share_of_humans():
    # pytorch-vqa keeps case and number words: "Two" is its own answer; 3 "two" of 10 humans -> 0.3
    assert targets_of("pytorch-vqa", ["two", "Two", "2"], "Two", *["two"] * 3, *["2"] * 6) == {
        "Two": 0.1, "two": 0.3, "2": 0.6}


def test_coverage_by_hand():
    annotations = [annotation(1, "yes"), annotation(2, "red", *["red"] * 2, *["blue"] * 8),
                   annotation(3, "zebra", *["zebra"] * 10)]
    report = coverage(annotations, ["yes", "red"], mcan_answer)
    assert report.questions == 3
    assert report.majority_in_vocab == 66.67  # yes, red
    assert report.answerable == 66.67
    assert report.best_possible_accuracy == round(100 * (1.0 + 0.6 + 0.0) / 3, 2)
