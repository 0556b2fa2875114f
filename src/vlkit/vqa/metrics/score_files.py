"""`vlkit vqa score`: official VQA accuracy of a results file against questions + annotations."""

from __future__ import annotations

from operator import attrgetter, itemgetter
from pathlib import Path

import numpy as np

from vlkit.vqa.data.official_checks import check_coverage, check_pairing_ids
from vlkit.vqa.data.official_files import (AnnotationTable, VQAAnnotation, read_annotation_table, read_question_ids,
                                          read_results)
from vlkit.vqa.metrics.official import accuracy_report, batch_accuracy, columns_accuracy


def score_results(annotations: dict[int, VQAAnnotation], results: list[tuple[int, str]], legacy: bool) -> dict:
    """Official accuracy report of `results` (in their file order) against annotation objects."""
    check_coverage(results, set(annotations))
    ordered = list(map(annotations.__getitem__, map(itemgetter(0), results)))
    accuracies = batch_accuracy(list(map(itemgetter(1), results)), list(map(attrgetter("answers"), ordered)), legacy)
    return accuracy_report(accuracies, list(map(attrgetter("answer_type"), ordered)),
                           list(map(attrgetter("question_type"), ordered)))


def score_table(table: AnnotationTable, results: list[tuple[int, str]], legacy: bool) -> dict:
    """Official accuracy report of `results` (in their file order) against an annotations file's columns."""
    check_coverage(results, set(table.question_ids.tolist()))
    result_ids = np.fromiter(map(itemgetter(0), results), dtype=np.int64, count=len(results))
    order = np.argsort(table.question_ids)
    rows = order[np.searchsorted(table.question_ids, result_ids, sorter=order)]  # (R,) table row of each result
    accuracies = columns_accuracy(list(map(itemgetter(1), results)), table.answers, rows, legacy)
    picked = rows.tolist()
    return accuracy_report(accuracies, list(map(table.answer_types.__getitem__, picked)),
                           list(map(table.question_types.__getitem__, picked)))


def score_files(questions_path: Path, annotations_path: Path, results_path: Path, legacy: bool = False) -> dict:
    """Read the three official files, check that they belong together, and score."""
    question_ids, question_images = read_question_ids(questions_path)
    table = read_annotation_table(annotations_path)
    check_pairing_ids(questions_path, question_ids, question_images, table.question_ids, table.image_ids)
    return score_table(table, read_results(results_path), legacy)
