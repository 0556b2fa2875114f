"""`vlkit vqa score`: official VQA accuracy of a results file against questions + annotations."""

from __future__ import annotations

from operator import attrgetter, itemgetter
from pathlib import Path

from vlkit.vqa.data.official_files import (
    VQAAnnotation,
    check_coverage,
    check_pairing,
    read_annotations,
    read_questions,
    read_results,
)
from vlkit.vqa.metrics.official import accuracy_report, batch_accuracy


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
