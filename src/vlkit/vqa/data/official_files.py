"""Readers for the official VQA v1/v2 files, with errors that say what was expected and found.

- questions: `{"questions": [{"image_id", "question", "question_id"}], ...}`
  (`v2_OpenEnded_mscoco_{train2014,val2014,test-dev2015,test2015}_questions.json`)
- annotations: `{"annotations": [{"question_id", "image_id", "question_type", "answer_type",
  "multiple_choice_answer", "answers": [{"answer", "answer_confidence", "answer_id"} x10]}]}`
  (`v2_mscoco_{train2014,val2014}_annotations.json`)
- results (what EvalAI and the official evaluator take): `[{"question_id": int, "answer": str}]`

Each file is parsed once, typed in C when it has exactly the official shape (`json_files`); a file
that does not is read as plain JSON and checked item by item, so that the error names the item.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain
from operator import attrgetter, itemgetter, methodcaller
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

import msgspec
import numpy as np

from vlkit.core.errors import VlkitError
from vlkit.vqa.data.json_files import collector_paused, decode, decode_typed, read_bytes
from vlkit.vqa.metrics.official import AnswerColumns, HumanAnswers


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


@dataclass
class AnnotationTable:
    """An annotations file as columns, in file order (question i's human answers are question i of `answers`)."""

    question_ids: np.ndarray  # (Q,) int64
    image_ids: np.ndarray  # (Q,) int64
    question_types: list[str]
    answer_types: list[str]
    multiple_choice_answers: list[str]
    answers: AnswerColumns


class _Question(msgspec.Struct, gc=False):
    question_id: int
    image_id: int
    question: str


class _QuestionsFile(msgspec.Struct, gc=False):
    questions: list[_Question]


class _Human(msgspec.Struct, gc=False):
    answer: str
    answer_id: Optional[int] = None
    answer_confidence: Optional[str] = None


class _Annotation(msgspec.Struct, gc=False):
    question_id: int
    image_id: int
    question_type: str
    answer_type: str
    answers: list[_Human]
    multiple_choice_answer: str = ""


class _AnnotationsFile(msgspec.Struct, gc=False):
    annotations: list[_Annotation]


class _Result(msgspec.Struct, gc=False):
    question_id: int
    answer: str


_QUESTIONS = msgspec.json.Decoder(_QuestionsFile)
_ANNOTATIONS = msgspec.json.Decoder(_AnnotationsFile)
_RESULTS = msgspec.json.Decoder(list[_Result])
_QUESTION_FIELDS = ("image_id", "question", "question_id")
_ANNOTATION_FIELDS = ("question_id", "image_id", "question_type", "answer_type", "answers")


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
    """The `key` list of a plain-JSON file, every item checked to hold `fields` (one pass; the first item
    lacking one is named)."""
    foreign = _describe_foreign(data)
    expected = f"a JSON object with a '{key}' list of objects with fields {list(fields)}"
    if foreign:
        raise VlkitError(f"{path} is {foreign}, not VQA {what}; expected {expected}")
    if not isinstance(data, dict) or not isinstance(data.get(key), list):
        found = f"an object with keys {sorted(data)[:8]}" if isinstance(data, dict) else type(data).__name__
        raise VlkitError(f"{path}: expected VQA {what}, {expected}; found {found}")
    items = data[key]
    required = set(fields)
    try:
        complete = all(map(required.issubset, map(dict.keys, items)))
    except TypeError:  # an item that is not an object
        complete = False
    if not complete:
        for position, item in enumerate(items):
            missing = [f for f in fields if not isinstance(item, dict) or f not in item]
            if missing:
                raise VlkitError(f"{path}: {key}[{position}] lacks {missing}; expected {expected}")
    return items


def read_questions(path: str | Path) -> dict[int, VQAQuestion]:
    """question_id -> question of an official questions file (any split)."""
    ids, image_ids, texts = _question_columns(Path(path))
    return {qid: VQAQuestion(qid, image_id, text) for qid, image_id, text in zip(ids.tolist(), image_ids.tolist(),
                                                                                 texts)}


def read_question_ids(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(question ids (Q,), image ids (Q,)) int64 of an official questions file: what pairing needs."""
    ids, image_ids, _ = _question_columns(Path(path))
    return ids, image_ids


def _records(path: Path, what: str, decoder: Any, key: str, fields: tuple[str, ...]) -> tuple[list, Callable, bool]:
    """(records, field getter, typed) of the `key` list of an official file: msgspec's typed decode, or, when a
    record has another shape, the plain-JSON records checked one by one (which names the first bad one).
    Call inside `collector_paused()`."""
    raw = read_bytes(path, f"VQA {what}")
    typed = decode_typed(raw, decoder)
    if typed is not None:
        return getattr(typed, key), attrgetter, True
    return _items(decode(raw, path, f"VQA {what}"), key, path, what, fields), itemgetter, False


def _question_columns(path: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    with collector_paused():
        items, get, typed = _records(path, "questions", _QUESTIONS, "questions", _QUESTION_FIELDS)
        ids = _integers(items, get("question_id"), "question_id", path)
        if len(np.unique(ids)) != len(ids):
            raise VlkitError(f"{path}: {len(ids) - len(np.unique(ids))} question_id(s) appear more than once")
        texts = list(map(get("question"), items)) if typed else _strings(map(get("question"), items))
        return ids, _integers(items, get("image_id"), "image_id", path), texts


def read_annotation_table(path: str | Path) -> AnnotationTable:
    """The columns of an official annotations file, every record and human answer checked."""
    path = Path(path)
    with collector_paused():
        items, get, typed = _records(path, "annotations", _ANNOTATIONS, "annotations", _ANNOTATION_FIELDS)
        human_lists = list(map(get("answers"), items))
        for position, humans in enumerate(human_lists):
            if not isinstance(humans, list) or not humans:
                raise VlkitError(f"{path}: annotations[{position}] needs a non-empty 'answers' list of "
                                 "{answer, answer_confidence, answer_id} objects")
        flat = list(chain.from_iterable(human_lists))
        if not typed and not all(isinstance(h, dict) and "answer" in h for h in flat):
            position = next(i for i, humans in enumerate(human_lists)
                            if not all(isinstance(h, dict) and "answer" in h for h in humans))
            raise VlkitError(f"{path}: annotations[{position}] has an answer that is not an object with an "
                             "'answer'; expected {answer, answer_confidence, answer_id} objects")
        ids = _integers(items, get("question_id"), "question_id", path)
        if len(np.unique(ids)) != len(ids):
            raise VlkitError(f"{path}: {len(ids) - len(np.unique(ids))} question_id(s) are annotated more than once")
        counts = np.fromiter(map(len, human_lists), dtype=np.int64, count=len(human_lists))
        strings = list if typed else _strings  # the typed decode has checked that they are strings
        answers = AnswerColumns(strings(map(get("answer"), flat)), _optional(flat, "answer_id", get),
                                _optional(flat, "answer_confidence", get), np.concatenate([[0], np.cumsum(counts)]))
        majority = (map(attrgetter("multiple_choice_answer"), items) if typed
                    else (item.get("multiple_choice_answer", "") for item in items))
        return AnnotationTable(ids, _integers(items, get("image_id"), "image_id", path),
                               strings(map(get("question_type"), items)), strings(map(get("answer_type"), items)),
                               strings(majority), answers)


def read_annotations(path: str | Path) -> dict[int, VQAAnnotation]:
    """question_id -> annotation of an official annotations file."""
    table = read_annotation_table(path)
    with collector_paused():
        return {qid: VQAAnnotation(qid, image_id, question_type, answer_type, majority, table.answers.question(row))
                for row, (qid, image_id, question_type, answer_type, majority) in enumerate(zip(
                    table.question_ids.tolist(), table.image_ids.tolist(), table.question_types,
                    table.answer_types, table.multiple_choice_answers))}


def read_results(path: str | Path) -> list[tuple[int, str]]:
    """(question_id, answer) pairs of a results file, in file order; duplicates are an error."""
    path = Path(path)
    raw = read_bytes(path, "VQA results")
    with collector_paused():
        typed = decode_typed(raw, _RESULTS)
        pairs = None if typed is None else [(result.question_id, result.answer) for result in typed]
    if pairs is None:
        data = decode(raw, path, "VQA results")
        expected = 'a JSON list of {"question_id": int, "answer": str} objects'
        if not isinstance(data, list):
            raise VlkitError(f"{path}: expected {expected}, found {type(data).__name__}")
        pairs = []
        for position, item in enumerate(data):
            if not isinstance(item, dict) or "question_id" not in item or not isinstance(item.get("answer"), str):
                raise VlkitError(f"{path}: item {position} is {str(item)[:80]}; expected {expected}")
            pairs.append((_integer(item["question_id"], "question_id", position, path), item["answer"]))
    if len({qid for qid, _ in pairs}) != len(pairs):
        raise VlkitError(f"{path}: some question_id appears more than once")
    return pairs


def _optional(records: list, key: str, get: Callable) -> list:
    """The `key` of every record, None where a plain-JSON record lacks it."""
    try:
        return list(map(get(key), records))
    except KeyError:
        return list(map(methodcaller("get", key), records))


def _strings(values: Iterable) -> list[str]:
    """`values` of a plain-JSON file as strings."""
    return list(map(str, values))


def _integers(items: list, get: Callable, key: str, path: Path) -> np.ndarray:
    """(N,) int64 of one integer field of every item, with an error naming the first that is not one."""
    values = list(map(get, items))
    try:
        return np.array(values, dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        return np.array([_integer(value, key, position, path) for position, value in enumerate(values)],
                        dtype=np.int64)


def _integer(value: Any, key: str, position: int, path: Path) -> int:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        raise VlkitError(f"{path}: item {position} has {key} {value!r}, not an integer") from None
