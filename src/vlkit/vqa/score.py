"""`vlkit vqa score`: official VQA accuracy of a results file against questions + annotations."""

from __future__ import annotations

from operator import attrgetter, itemgetter
from pathlib import Path

from vlkit.errors import VlkitError
from vlkit.vqa.official_metric import accuracy_report, batch_accuracy
from vlkit.vqa.vqa_files import VQAAnnotation, read_annotations, read_questions, read_results


def check_pairing(questions_path: Path, questions: dict, annotations: dict[int, VQAAnnotation]) -> None:
    """The annotations must annotate exactly the questions of the questions file, on the same images."""
    missing = sorted(set(questions) - set(annotations))
    extra = sorted(set(annotations) - set(questions))
    if missing or extra:
        raise VlkitError(
            f"questions file {questions_path} and the annotations do not match: {len(missing)} question(s) "
            f"without annotation (e.g. {missing[:5]}), {len(extra)} annotation(s) without question "
            f"(e.g. {extra[:5]}); are they from the same split?")
    wrong_image = [qid for qid, q in questions.items() if annotations[qid].image_id != q.image_id]
    if wrong_image:
        raise VlkitError(f"{len(wrong_image)} question(s) have another image_id in the annotations "
                         f"(e.g. question {wrong_image[0]})")


def check_coverage(results: list[tuple[int, str]], annotated: set[int]) -> None:
    """Results must answer every annotated question and nothing else, as the official evaluator asserts."""
    answered = set(map(itemgetter(0), results))
    missing = sorted(annotated - answered)
    extra = sorted(answered - annotated)
    if not missing and not extra:
        return
    if not answered & annotated:
        raise VlkitError(f"the results answer none of the {len(annotated)} annotated questions: "
                         "are they for another split?")
    raise VlkitError(f"the results must answer exactly the annotated questions: {len(missing)} missing "
                     f"(e.g. {missing[:10]}), {len(extra)} extra (e.g. {extra[:10]})")


def score_results(annotations: dict[int, VQAAnnotation], results: list[tuple[int, str]], legacy: bool) -> dict:
    """Official accuracy report of `results` (in their file order)."""
    check_coverage(results, set(annotations))
    ordered = list(map(annotations.__getitem__, map(itemgetter(0), results)))
    accuracies = batch_accuracy(list(map(itemgetter(1), results)), list(map(attrgetter("answers"), ordered)), legacy)
    return accuracy_report(accuracies, list(map(attrgetter("answer_type"), ordered)),
                           list(map(attrgetter("question_type"), ordered)))


def score_files(questions_path: Path, annotations_path: Path, results_path: Path, legacy: bool = False) -> dict:
    """Read the three official files, check that they belong together, and score."""
    questions = read_questions(questions_path)
    annotations = read_annotations(annotations_path)
    check_pairing(questions_path, questions, annotations)
    return score_results(annotations, read_results(results_path), legacy)
