"""Official VQA accuracy on hand-computed cases, current vs legacy evaluator."""

import json
import subprocess
import sys

import pytest

from conftest import invoke_cli
from vlkit.vqa.metrics.official import HumanAnswers, accuracy_report, batch_accuracy, question_accuracy


def humans(*answers: str) -> HumanAnswers:
    return HumanAnswers(tuple(answers), tuple(range(1, len(answers) + 1)), ("yes",) * len(answers))


def test_unanimous_answers_count_fully():
    assert question_accuracy("yes", humans(*["yes"] * 10)) == 1.0
    assert question_accuracy("no", humans(*["yes"] * 10)) == 0.0


@pytest.mark.parametrize("legacy", [False, True])
def test_leave_one_out_average(legacy):
    # 2 of 10 say "red": the 2 "red" folds see 1 other match (1/3), the 8 others see 2 (2/3)
    assert question_accuracy("red", humans(*["red"] * 2, *["blue"] * 8), legacy) == pytest.approx(0.6)
    # 1 of 10: its own fold sees 0, the 9 others see 1 (1/3)
    assert question_accuracy("red", humans("red", *["blue"] * 9), legacy) == pytest.approx(0.3)
    # 3 of 10: own folds 2/3, others 1 -> (3 * 2/3 + 7) / 10
    assert question_accuracy("blue", humans(*["blue"] * 3, *["red"] * 7), legacy) == pytest.approx(0.9)


def test_current_normalises_both_sides_only_when_humans_disagree():
    mixed = humans(*["2"] * 3, *["two"] * 7)  # not unanimous: all become "2"
    assert question_accuracy("two", mixed) == 1.0
    unanimous = humans(*["Two"] * 10)  # unanimous: nothing is normalised
    assert question_accuracy("Two", unanimous) == 1.0
    assert question_accuracy("2", unanimous) == 0.0
    assert question_accuracy(" Two\n", unanimous) == 1.0  # whitespace is still cleaned


def test_legacy_normalises_the_result_always_and_humans_by_punctuation_only():
    mixed = humans(*["2"] * 3, *["two"] * 7)  # humans keep "two"; the result "two" becomes "2"
    assert question_accuracy("two", mixed, legacy=True) == pytest.approx(0.9)
    unanimous = humans(*["Two"] * 10)  # the humans' "Two" can never equal a normalised result
    assert question_accuracy("Two", unanimous, legacy=True) == 0.0


def test_digit_comma_cases_in_both_versions():
    mixed = humans(*["1,000"] * 5, *["1000"] * 5)
    assert question_accuracy("1,000", mixed) == 1.0
    assert question_accuracy("1,000", mixed, legacy=True) == 1.0
    unanimous = humans(*["1,000"] * 10)
    assert question_accuracy("1,000", unanimous) == 1.0
    assert question_accuracy("1,000", unanimous, legacy=True) == 0.0  # result -> "1000", humans stay "1,000"


def test_records_without_ids_are_left_out_together_like_the_official_dict_comparison():
    # identical records (no answer_id) are all excluded in each fold: "red" x2 folds see 0 matches
    same = HumanAnswers(("red", "red", *["blue"] * 8), (None, None, *range(3, 11)), ("yes",) * 10)
    assert not same.distinct
    assert question_accuracy("red", same) == pytest.approx((0 + 0 + 8 * 2 / 3) / 10)
    assert batch_accuracy(["red"], [same]).tolist() == pytest.approx([(0 + 0 + 8 * 2 / 3) / 10])


def test_report_rounding_and_grouping():
    report = accuracy_report([1.0, 0.6, 0.3], ["yes/no", "other", "other"], ["is the", "what color", "what color"])
    assert report == {"overall": 63.33, "perAnswerType": {"yes/no": 100.0, "other": 45.0},
                      "perQuestionType": {"is the": 100.0, "what color": 45.0}}


def write_split(tmp_path, answers_per_question):
    questions, annotations = [], []
    for qid, (question_type, answer_type, answers) in answers_per_question.items():
        questions.append({"image_id": 100 + qid, "question": f"question {qid}?", "question_id": qid})
        annotations.append({"question_id": qid, "image_id": 100 + qid, "question_type": question_type,
                            "answer_type": answer_type, "multiple_choice_answer": answers[0],
                            "answers": [{"answer": a, "answer_confidence": "yes", "answer_id": i + 1}
                                        for i, a in enumerate(answers)]})
    q, a = tmp_path / "v2_OpenEnded_mscoco_val2014_questions.json", tmp_path / "v2_mscoco_val2014_annotations.json"
    q.write_text(json.dumps({"info": {}, "task_type": "Open-Ended", "data_type": "mscoco",
                             "data_subtype": "val2014", "questions": questions}))
    a.write_text(json.dumps({"info": {}, "data_subtype": "val2014", "annotations": annotations}))
    return q, a


def test_score_command_on_official_format_files(tmp_path):
    q, a = write_split(tmp_path, {
        1: ("is the", "yes/no", ["yes"] * 10),
        2: ("how many", "number", ["2"] * 3 + ["two"] * 7),
        3: ("what color", "other", ["red"] * 2 + ["blue"] * 8),
    })
    results = tmp_path / "results.json"
    results.write_text(json.dumps([{"question_id": 3, "answer": "red"}, {"question_id": 1, "answer": "yes"},
                                   {"question_id": 2, "answer": "two"}]))
    args = ["vqa", "score", "--questions", str(q), "--annotations", str(a), "--results", str(results), "--json"]
    current = json.loads(invoke_cli(args, cwd=tmp_path).stdout)
    assert current == {"overall": 86.67, "perAnswerType": {"other": 60.0, "yes/no": 100.0, "number": 100.0},
                       "perQuestionType": {"what color": 60.0, "is the": 100.0, "how many": 100.0}}
    legacy = json.loads(invoke_cli([*args, "--legacy"], cwd=tmp_path).stdout)
    assert legacy["overall"] == 83.33 and legacy["perAnswerType"]["number"] == 90.0


def test_score_command_rejects_wrong_files(tmp_path):
    q, a = write_split(tmp_path, {1: ("is the", "yes/no", ["yes"] * 10), 2: ("is the", "yes/no", ["no"] * 10)})
    results = tmp_path / "results.json"

    def score(questions=q, annotations=a):
        return invoke_cli(["vqa", "score", "--questions", str(questions), "--annotations", str(annotations),
                           "--results", str(results)], cwd=tmp_path, check=False)

    results.write_text(json.dumps([{"question_id": 1, "answer": "yes"}]))
    missing = score()
    assert missing.returncode == 2 and "1 missing (e.g. [2])" in missing.stderr
    results.write_text(json.dumps([{"question_id": 7, "answer": "yes"}, {"question_id": 8, "answer": "no"}]))
    assert "another split" in score().stderr
    results.write_text("[{\"question_id\": 1,")
    assert "not valid JSON" in score().stderr
    captions = tmp_path / "captions_val2014.json"
    captions.write_text(json.dumps({"images": [], "annotations": [{"image_id": 1, "id": 5, "caption": "a dog"}]}))
    wrong = score(annotations=captions)
    assert wrong.returncode == 2 and "COCO captions file" in wrong.stderr and "Traceback" not in wrong.stderr
    karpathy = tmp_path / "dataset_coco.json"
    karpathy.write_text(json.dumps({"images": [{"sentences": [], "split": "val"}], "dataset": "coco"}))
    assert "Karpathy" in score(annotations=karpathy).stderr
    other_q = tmp_path / "other_questions.json"
    other_q.write_text(json.dumps({"questions": [{"image_id": 1, "question": "q?", "question_id": 99}]}))
    assert "same split" in score(questions=other_q).stderr


@pytest.mark.parametrize("legacy", [False, True])
def test_vectorised_scorer_equals_the_per_question_rules(legacy):
    import random

    rng = random.Random(7)
    pool = ["yes", "Yes", "no", "2", "two", "Two.", "1,000", "1000", "U.S.A.", "usa", " red\n", "red", "a dog",
            "dog", "black-and-white", "black and white", "dont", "don't", "3.5", "left / right"]
    results, answers = [], []
    for question in range(3000):
        count = 10 if question % 50 else rng.choice([1, 3, 10])
        texts = tuple(rng.choice(pool[:4]) if rng.random() < 0.3 else rng.choice(pool) for _ in range(count))
        ids = tuple(range(1, count + 1)) if question % 97 else (None,) * count
        answers.append(HumanAnswers(texts, ids, ("yes",) * count))
        results.append(rng.choice(pool))
    expected = [question_accuracy(r, h, legacy) for r, h in zip(results, answers)]
    assert batch_accuracy(results, answers, legacy).tolist() == expected


def test_scoring_and_checking_load_no_training_framework():
    """`vlkit vqa score` and `vlkit vqa check` start in well under a second: neither imports torch or Lightning."""
    code = ("import sys, vlkit.cli, vlkit.vqa.metrics.score_files, vlkit.vqa.data.checks\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'lightning', 'torchvision'}))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_files_of_the_exact_official_shape_and_lenient_ones_score_the_same(tmp_path):
    """A file of the exact shape is decoded typed in one pass; one that differs (a question_id written as a
    string, answers without answer_id) is read item by item: both must give the hand-worked report."""
    from vlkit.vqa.metrics.score_files import score_files

    q, a = write_split(tmp_path, {1: ("is the", "yes/no", ["yes"] * 10),
                                  2: ("what color", "other", ["red"] * 2 + ["blue"] * 8)})
    results = tmp_path / "results.json"
    results.write_text(json.dumps([{"question_id": 2, "answer": "red"}, {"question_id": 1, "answer": "yes"}]))
    expected = {"overall": 80.0, "perAnswerType": {"other": 60.0, "yes/no": 100.0},
                "perQuestionType": {"what color": 60.0, "is the": 100.0}}
    assert score_files(q, a, results) == expected
    lenient = json.loads(a.read_text())
    lenient["annotations"][0]["question_id"] = "1"
    for human in lenient["annotations"][1]["answers"]:
        del human["answer_id"]  # no ids: each fold leaves out every answer equal to its own, as vqaEval does
    a.write_text(json.dumps(lenient))
    red_folds = (0 + 0 + 8 * 2 / 3) / 10  # the two "red" records are equal dicts: both folds drop both
    assert score_files(q, a, results)["overall"] == round(100 * (red_folds + 1) / 2, 2)


def test_distinct_answer_ids_are_found_in_both_layouts():
    from vlkit.vqa.metrics.official import AnswerColumns

    same_count = [humans("a", "b", "c"), HumanAnswers(("a", "b", "c"), (1, 1, 2), ("yes",) * 3), humans("x", "y", "z")]
    mixed = [*same_count, humans("a"), HumanAnswers(("a", "b"), (4, 4), ("yes", "yes"))]
    for group in (same_count, mixed):
        assert AnswerColumns.of(group).distinct().tolist() == [h.distinct for h in group]
    assert [h.distinct for h in mixed] == [True, False, True, True, False]
