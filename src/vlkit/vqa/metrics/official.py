"""VQA accuracy exactly as the official evaluator computes it, in its current and its legacy version.

Accuracy of an answer against the human answers: for each human answer i, min(1, (number of the
*other* human answers equal to it) / 3), averaged over i (the "10 choose 9" average). Overall,
per-answer-type and per-question-type numbers are means over questions, x100, rounded to 2
decimals with Python's round(), summed in the order of the results file as the official script
does.

- current (GT-Vision-Lab/VQA HEAD, 2021 "Fixed processing answers bug"): answers are stripped of
  newlines/tabs; only when the human answers are not unanimous are both the human answers and the
  result normalised (punctuation, then digits/articles/contractions).
- legacy (the version mcan-vqa, openvqa and LAVIS ship): the result is always normalised; the human
  answers get the punctuation rule only, and only when they are not unanimous.

`question_accuracy` scores one question; `batch_accuracy` scores many at once: every distinct
answer string is normalised once, strings become integer codes, and the leave-one-out counts are
numpy array operations (benchmarks/vqa_metric.py measures it against a per-question loop). Fold
accuracies are added left to right, as the official loop adds them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from itertools import chain
from operator import attrgetter
from typing import Callable, Sequence

import numpy as np

from vlkit.vqa.metrics.normalization import (
    clean_whitespace,
    normalize_answer,
    punctuation_only,
)


@dataclass(frozen=True)
class HumanAnswers:
    """The human answers of one question, as the `answers` list of `*_annotations.json` gives them.

    texts, ids and confidences are parallel (usually 10 entries); `distinct` says whether every entry
    has its own answer_id (then "leave one out" leaves out exactly one entry).
    """

    texts: tuple[str, ...]
    ids: tuple[int | None, ...] = ()
    confidences: tuple[str | None, ...] = ()
    distinct: bool = field(init=False)

    def __post_init__(self) -> None:
        ids = self.ids or (None,) * len(self.texts)
        confidences = self.confidences or (None,) * len(self.texts)
        if not len(self.texts) == len(ids) == len(confidences) or not self.texts:
            raise ValueError("human answers need one id and one confidence per answer text")
        object.__setattr__(self, "ids", tuple(ids))
        object.__setattr__(self, "confidences", tuple(confidences))
        object.__setattr__(self, "distinct", None not in ids and len(set(ids)) == len(ids))


def question_accuracy(result: str, human: HumanAnswers, legacy: bool = False) -> float:
    """Accuracy in [0, 1] of one result string against the human answers of its question."""
    if legacy:
        answer = normalize_answer(result)
        raw = list(human.texts)
        targets = [punctuation_only(a) for a in raw] if len(set(raw)) > 1 else raw
    else:
        answer = clean_whitespace(result)
        targets = [clean_whitespace(text) for text in human.texts]
        if len(set(targets)) > 1:
            targets = [normalize_answer(t) for t in targets]
            answer = normalize_answer(answer)
    # "other answers" excludes every entry equal to entry i as a whole record, as the official
    # `item != gtAnsDatum` does; with distinct answer_ids that is exactly entry i.
    records = list(zip(targets, human.ids, human.confidences))
    same_record = Counter(records)
    matches = sum(t == answer for t in targets)
    total = 0.0
    for record in records:
        others_matching = matches - (same_record[record] if record[0] == answer else 0)
        total += min(1.0, others_matching / 3)
    return total / len(records)


@dataclass(frozen=True)
class AnswerColumns:
    """The human answers of many questions as flat parallel lists: question i's are entries
    offsets[i] to offsets[i + 1] of texts, ids and confidences (the layout scoring works on)."""

    texts: list[str]
    ids: list[int | None]
    confidences: list[str | None]
    offsets: np.ndarray  # (Q + 1,) int64

    @classmethod
    def of(cls, humans: Sequence[HumanAnswers]) -> "AnswerColumns":
        """The columns of `humans`, in their order."""
        counts = np.fromiter(map(len, map(_TEXTS, humans)), dtype=np.int64, count=len(humans))
        return cls(list(chain.from_iterable(map(_TEXTS, humans))), list(chain.from_iterable(map(_IDS, humans))),
                   list(chain.from_iterable(map(_CONFIDENCES, humans))), np.concatenate([[0], np.cumsum(counts)]))

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def question(self, row: int) -> HumanAnswers:
        """The human answers of question `row`."""
        start, end = int(self.offsets[row]), int(self.offsets[row + 1])
        return HumanAnswers(tuple(self.texts[start:end]), tuple(self.ids[start:end]),
                            tuple(self.confidences[start:end]))

    def distinct(self) -> np.ndarray:
        """(Q,) bool: every answer of the question has an answer_id of its own (HumanAnswers.distinct)."""
        question = np.repeat(np.arange(len(self)), np.diff(self.offsets))  # (N,) question of each answer
        if not set(map(type, self.ids)) <= {int}:  # missing or non-integer ids: question by question
            return np.fromiter((self.question(row).distinct for row in range(len(self))), dtype=bool,
                               count=len(self))
        ids = np.asarray(self.ids, dtype=np.int64)
        counts = np.diff(self.offsets)
        if len(self) and (counts == counts[0]).all():  # the usual layout: n answers per question
            ordered = np.sort(ids.reshape(len(self), int(counts[0])), axis=1)  # (Q, n)
            return ~(ordered[:, 1:] == ordered[:, :-1]).any(axis=1)
        order = np.lexsort((ids, question))
        repeated = (question[order][1:] == question[order][:-1]) & (ids[order][1:] == ids[order][:-1])
        distinct = np.ones(len(self), dtype=bool)
        distinct[question[order][1:][repeated]] = False
        return distinct


_TEXTS = attrgetter("texts")
_IDS = attrgetter("ids")
_CONFIDENCES = attrgetter("confidences")


class _StringCodes:
    """Integer codes of strings, and of their cleaned / normalised / punctuation-only forms."""

    def __init__(self) -> None:
        self.codes: dict[str, int] = {}

    def code(self, text: str) -> int:
        return self.codes.setdefault(text, len(self.codes))

    def encode(self, texts: list[str]) -> np.ndarray:
        """Codes (N,) int64 of `texts`."""
        for text in dict.fromkeys(texts):
            self.codes.setdefault(text, len(self.codes))
        return np.fromiter(map(self.codes.__getitem__, texts), dtype=np.int64, count=len(texts))

    def mapped(self, codes: np.ndarray, rule: Callable[[str], str]) -> np.ndarray:
        """Codes of rule(text) for each code in `codes` (any shape); the rule runs once per distinct text."""
        texts = list(self.codes)
        seen = np.zeros(len(texts), dtype=bool)
        seen[codes] = True
        table = np.zeros(len(texts), dtype=np.int64)
        for code in np.flatnonzero(seen).tolist():
            table[code] = self.code(rule(texts[code]))
        return table[codes]


def batch_accuracy(results: Sequence[str], humans: Sequence[HumanAnswers], legacy: bool = False) -> np.ndarray:
    """Accuracy in [0, 1] (Q,) float64 of each result against its question's human answers (results (Q,) strings,
    humans (Q,)); equal to `question_accuracy` question by question."""
    return columns_accuracy(results, AnswerColumns.of(humans), np.arange(len(humans)), legacy)


def columns_accuracy(results: Sequence[str], columns: AnswerColumns, rows: np.ndarray, legacy: bool = False
                     ) -> np.ndarray:
    """Accuracy in [0, 1] (R,) float64 of results (R,) strings, result i against the human answers of question
    rows[i] of `columns`; equal to `question_accuracy` question by question.

    Questions whose answers are not told apart by answer_id go through `question_accuracy`; the rest
    are grouped by their number of answers and vectorised.
    """
    accuracies = np.zeros(len(results), dtype=np.float64)
    distinct = columns.distinct()[rows]
    counts = np.diff(columns.offsets)[rows]
    for position in np.flatnonzero(~distinct).tolist():
        accuracies[position] = question_accuracy(results[position], columns.question(int(rows[position])), legacy)
    codes = _StringCodes()
    text_codes = codes.encode(columns.texts)  # (N,) every human answer, coded once
    for count in np.unique(counts[distinct]).tolist():
        positions = np.flatnonzero(distinct & (counts == count))
        starts = columns.offsets[rows[positions]]
        raw = text_codes[starts[:, None] + np.arange(count)]  # (Q, n)
        result = codes.encode(list(map(results.__getitem__, positions.tolist())))
        targets, answer = _targets_and_answers(codes, raw, result, legacy)
        same = targets == answer[:, None]  # (Q, n)
        folds = np.minimum(1.0, (same.sum(axis=1, keepdims=True) - same) / 3)  # (Q, n) leave-one-out
        accuracies[positions] = np.cumsum(folds, axis=1)[:, -1] / count  # left-to-right, as the official loop adds
    return accuracies


def _targets_and_answers(codes: _StringCodes, raw: np.ndarray, result: np.ndarray, legacy: bool
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Codes of the compared human answers (Q, n) and results (Q,) under the chosen evaluator version."""
    if legacy:
        unanimous = (raw == raw[:, :1]).all(axis=1, keepdims=True)
        targets = np.where(unanimous, raw, codes.mapped(raw, punctuation_only))
        return targets, codes.mapped(result, normalize_answer)
    cleaned = codes.mapped(raw, clean_whitespace)
    unanimous = (cleaned == cleaned[:, :1]).all(axis=1)
    targets = np.where(unanimous[:, None], cleaned, codes.mapped(cleaned, normalize_answer))
    answer = codes.mapped(result, clean_whitespace)
    return targets, np.where(unanimous, answer, codes.mapped(answer, normalize_answer))


def accuracy_report(accuracies: Sequence[float] | np.ndarray, answer_types: Sequence[str],
                    question_types: Sequence[str]) -> dict:
    """{"overall", "perAnswerType", "perQuestionType"} in percent, rounded as the official script does.

    The three sequences are parallel, one entry per question, in the order of the results file.
    """
    if len(accuracies) == 0:
        raise ValueError("no questions to score")
    values = np.asarray(accuracies, dtype=np.float64)

    def percent(group: np.ndarray) -> float:
        return round(100 * float(sum(group.tolist())) / len(group), 2)  # Python's sum, in results order

    def per_group(names: Sequence[str]) -> dict[str, float]:
        table = {name: code for code, name in enumerate(dict.fromkeys(names))}
        codes = np.fromiter(map(table.__getitem__, names), dtype=np.int64, count=len(names))
        order = np.argsort(codes, kind="stable")  # stable: each group keeps the results order
        groups = np.split(values[order], np.flatnonzero(np.diff(codes[order])) + 1)
        return {name: percent(group) for name, group in zip(table, groups)}

    return {"overall": percent(values), "perAnswerType": per_group(answer_types),
            "perQuestionType": per_group(question_types)}
