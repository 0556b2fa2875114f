"""Checks that official VQA files belong together: questions and annotations of one split, results for it."""

from __future__ import annotations

from operator import itemgetter
from pathlib import Path

import numpy as np

from vlkit.core.errors import VlkitError
from vlkit.vqa.data.official_files import VQAAnnotation


def check_pairing(questions_path: Path, questions: dict, annotations: dict[int, VQAAnnotation]) -> None:
    """The annotations must annotate exactly the questions of the questions file, on the same images."""
    question_ids = np.fromiter(questions, dtype=np.int64, count=len(questions))
    annotated = np.fromiter(annotations, dtype=np.int64, count=len(annotations))
    check_pairing_ids(questions_path, question_ids,
                      np.fromiter((q.image_id for q in questions.values()), dtype=np.int64, count=len(questions)),
                      annotated,
                      np.fromiter((a.image_id for a in annotations.values()), dtype=np.int64, count=len(annotations)))


def check_pairing_ids(questions_path: Path, question_ids: np.ndarray, question_images: np.ndarray,
                      annotated_ids: np.ndarray, annotated_images: np.ndarray) -> None:
    """`check_pairing` on arrays: question ids (Q,) with their image ids (Q,); annotated ids (A,) with theirs."""
    asked, annotated = set(question_ids.tolist()), set(annotated_ids.tolist())
    missing, extra = sorted(asked - annotated), sorted(annotated - asked)
    if missing or extra:
        raise VlkitError(
            f"questions file {questions_path} and the annotations do not match: {len(missing)} question(s) "
            f"without annotation (e.g. {missing[:5]}), {len(extra)} annotation(s) without question "
            f"(e.g. {extra[:5]}); are they from the same split?")
    order, annotated_order = np.argsort(question_ids), np.argsort(annotated_ids)
    wrong = question_images[order] != annotated_images[annotated_order]
    if wrong.any():
        raise VlkitError(f"{int(wrong.sum())} question(s) have another image_id in the annotations "
                         f"(e.g. question {int(question_ids[order][wrong][0])})")


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
