"""Readers for the official VQA v1/v2 files, with errors that say what was expected and found.

- questions: `{"questions": [{"image_id", "question", "question_id"}], ...}`
  (`v2_OpenEnded_mscoco_{train2014,val2014,test-dev2015,test2015}_questions.json`)
- annotations: `{"annotations": [{"question_id", "image_id", "question_type", "answer_type",
  "multiple_choice_answer", "answers": [{"answer", "answer_confidence", "answer_id"} x10]}]}`
  (`v2_mscoco_{train2014,val2014}_annotations.json`)
- results (what EvalAI and the official evaluator take): `[{"question_id": int, "answer": str}]`
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import Any

from vlkit.core.errors import VlkitError
from vlkit.vqa.metrics.official import HumanAnswers


@dataclass(frozen=True)
class VQAQuestion:
    question_id: int
    image_id: int
    question: str


@dataclass(frozen=True)
class VQAAnnotation:
    question_id: int
    image_id: int
    question_type: str
    answer_type: str
    multiple_choice_answer: str
    answers: HumanAnswers


def load_json(path: str | Path, what: str) -> Any:
    """Parse a JSON file, naming it and what it should be in every error."""
    path = Path(path)
    if not path.is_file():
        raise VlkitError(f"{what} file not found: {path}")
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except json.JSONDecodeError as error:
        raise VlkitError(f"{what} file {path} is not valid JSON: {error}") from error
    except UnicodeDecodeError as error:
        raise VlkitError(f"{what} file {path} is not UTF-8 text: {error}") from error


def _describe_foreign(data: Any) -> str | None:
    """Name the well-known non-VQA formats (caption files), or None."""
    if isinstance(data, dict):
        if isinstance(data.get("images"), list) and data["images"] and "sentences" in data["images"][0]:
            return "a Karpathy-split caption file (dataset_coco.json: 'images' with 'sentences')"
        annotations = data.get("annotations")
        if isinstance(annotations, list) and annotations and isinstance(annotations[0], dict) \
                and "caption" in annotations[0]:
            return "a COCO captions file (captions_*.json: 'annotations' with 'caption')"
    return None


def _items(data: Any, key: str, path: Path, what: str, fields: tuple[str, ...]) -> list[dict]:
    foreign = _describe_foreign(data)
    expected = f"a JSON object with a '{key}' list of objects with fields {list(fields)}"
    if foreign:
        raise VlkitError(f"{path} is {foreign}, not VQA {what}; expected {expected}")
    if not isinstance(data, dict) or not isinstance(data.get(key), list):
        found = f"an object with keys {sorted(data)[:8]}" if isinstance(data, dict) else type(data).__name__
        raise VlkitError(f"{path}: expected VQA {what}, {expected}; found {found}")
    items = data[key]
    for position, item in enumerate(items):
        missing = [f for f in fields if not isinstance(item, dict) or f not in item]
        if missing:
            raise VlkitError(f"{path}: {key}[{position}] lacks {missing}; expected {expected}")
    return items


def read_questions(path: str | Path) -> dict[int, VQAQuestion]:
    """question_id -> question of an official questions file (any split)."""
    path = Path(path)
    items = _items(load_json(path, "VQA questions"), "questions", path, "questions",
                   ("image_id", "question", "question_id"))
    questions = {int(q["question_id"]): VQAQuestion(int(q["question_id"]), int(q["image_id"]), str(q["question"]))
                 for q in items}
    if len(questions) != len(items):
        raise VlkitError(f"{path}: {len(items) - len(questions)} question_id(s) appear more than once")
    return questions


def read_annotations(path: str | Path) -> dict[int, VQAAnnotation]:
    """question_id -> annotation of an official annotations file."""
    path = Path(path)
    items = _items(load_json(path, "VQA annotations"), "annotations", path, "annotations",
                   ("question_id", "image_id", "question_type", "answer_type", "answers"))
    annotations = {}
    for position, a in enumerate(items):
        answers = a["answers"]
        if not isinstance(answers, list) or not answers or not all(isinstance(h, dict) and "answer" in h
                                                                     for h in answers):
            raise VlkitError(f"{path}: annotations[{position}] needs a non-empty 'answers' list of "
                             "{answer, answer_confidence, answer_id} objects")
        annotations[int(a["question_id"])] = VQAAnnotation(
            question_id=int(a["question_id"]), image_id=int(a["image_id"]), question_type=str(a["question_type"]),
            answer_type=str(a["answer_type"]), multiple_choice_answer=str(a.get("multiple_choice_answer", "")),
            answers=HumanAnswers(tuple(str(h["answer"]) for h in answers), tuple(h.get("answer_id") for h in answers),
                                 tuple(h.get("answer_confidence") for h in answers)),
        )
    return annotations


def read_results(path: str | Path) -> list[tuple[int, str]]:
    """(question_id, answer) pairs of a results file, in file order; duplicates are an error."""
    path = Path(path)
    data = load_json(path, "VQA results")
    expected = 'a JSON list of {"question_id": int, "answer": str} objects'
    if not isinstance(data, list):
        raise VlkitError(f"{path}: expected {expected}, found {type(data).__name__}")
    pairs = []
    for position, item in enumerate(data):
        if not isinstance(item, dict) or "question_id" not in item or not isinstance(item.get("answer"), str):
            raise VlkitError(f"{path}: item {position} is {str(item)[:80]}; expected {expected}")
        pairs.append((int(item["question_id"]), item["answer"]))
    if len({qid for qid, _ in pairs}) != len(pairs):
        raise VlkitError(f"{path}: some question_id appears more than once")
    return pairs


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
