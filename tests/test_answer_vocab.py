"""Answer vocabularies, coverage and soft targets on hand-built annotations."""

import pytest

from vlkit.vqa.answer_vocab import (coverage, exact_soft_scores, mcan_answer, mcan_answer_vocab, mcan_soft_scores,
                                    pytorch_vqa_answer, pytorch_vqa_answer_vocab)
from vlkit.vqa.answers import normalize_answer
from vlkit.vqa.official_metric import HumanAnswers, question_accuracy
from vlkit.vqa.vqa_files import VQAAnnotation


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


@pytest.mark.parametrize("count, expected", [(0, None), (1, 0.3), (2, 0.6), (3, 0.9), (4, 1.0), (7, 1.0)])
def test_soft_scores_for_ten_answers(count, expected):
    answers = humans(*["cat"] * count, *["dog"] * (10 - count))
    mcan = mcan_soft_scores(answers).get("cat")
    exact = exact_soft_scores(answers).get("cat")
    assert mcan == (pytest.approx(expected) if expected is not None else None)
    assert exact == (pytest.approx(expected) if expected is not None else None)
    if expected is not None:  # the exact target is the official accuracy of predicting it
        assert exact == pytest.approx(question_accuracy("cat", answers))


def test_exact_soft_scores_with_three_answers_differ_from_mcan():
    answers = humans("cat", "cat", "dog")
    # predicting "cat": folds leaving out a "cat" see 1 match (1/3), the "dog" fold sees 2 (2/3)
    assert exact_soft_scores(answers)["cat"] == pytest.approx((1 / 3 + 1 / 3 + 2 / 3) / 3)
    assert mcan_soft_scores(answers)["cat"] == pytest.approx(0.6)
    assert exact_soft_scores(humans(*["Two"] * 10)) == {"Two": 1.0}  # unanimous: compared unnormalised


def test_coverage_by_hand():
    annotations = [annotation(1, "yes"), annotation(2, "red", *["red"] * 2, *["blue"] * 8),
                   annotation(3, "zebra", *["zebra"] * 10)]
    report = coverage(annotations, ["yes", "red"], mcan_answer)
    assert report.questions == 3
    assert report.majority_in_vocab == 66.67  # yes, red
    assert report.answerable == 66.67
    assert report.best_possible_accuracy == round(100 * (1.0 + 0.6 + 0.0) / 3, 2)
