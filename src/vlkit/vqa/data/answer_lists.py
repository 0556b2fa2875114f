"""Answer vocabularies and soft training targets the way the reference VQA systems build them.

- MCAN (MILVLG/mcan-vqa): each `multiple_choice_answer` of train+val normalised with the official
  rules plus comma removal, kept when seen more than 8 times, in order of first appearance
  (3,129 answers on VQA v2); targets min(1, 0.3 x number of humans who gave the answer).
- pytorch-vqa (Cyanogenoid/pytorch-vqa): all 10 human answers of train with its regular-expression
  version of the punctuation rule, the 3,000 most frequent, sorted by (count, answer) descending;
  targets are the share of humans who gave the answer (its counts weighed by 0.1).

`ANSWER_LISTS` names both kinds (`data.answers`): how each builds its list, normalises an answer
and scores a training target.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from vlkit.core.errors import VlkitError
from vlkit.vqa.data.official_files import VQAAnnotation
from vlkit.vqa.metrics.normalization import process_digits_articles, process_punctuation
from vlkit.vqa.metrics.official import question_accuracy

MCAN_MIN_COUNT_EXCLUSIVE = 8
PYTORCH_VQA_TOP_K = 3000

_PV_CHARS = re.escape(r';/[]"{}()=+\_-><@`,?!')
_PV_PUNCTUATION = re.compile(r"([{}])".format(re.escape(_PV_CHARS)))
_PV_NEXT_TO_SPACE = re.compile(r"(?<= )([{0}])|([{0}])(?= )".format(_PV_CHARS))
_PV_PERIOD = re.compile(r"(?!<=\d)(\.)(?!\d)")
_PV_DIGIT_COMMA_DIGIT = re.compile(r"(\d)(,)(\d)")


def mcan_answer(text: str) -> str:
    """MCAN's answer normalisation: the official rules, then every comma removed."""
    return process_digits_articles(process_punctuation(text)).replace(",", "")


def pytorch_vqa_answer(text: str) -> str:
    """pytorch-vqa's answer normalisation (punctuation only, regular-expression form, then strip)."""
    if _PV_PUNCTUATION.search(text) is None:
        return text
    text = _PV_NEXT_TO_SPACE.sub("", text)
    if _PV_DIGIT_COMMA_DIGIT.search(text) is not None:
        text = text.replace(",", "")
    text = _PV_PUNCTUATION.sub(" ", text)
    return _PV_PERIOD.sub("", text).strip()


def mcan_answer_vocab(annotations: Iterable[VQAAnnotation], min_count_exclusive: int = MCAN_MIN_COUNT_EXCLUSIVE
                      ) -> list[str]:
    """MCAN's answer list from train+val annotations: normalised answers seen more than `min_count_exclusive` times."""
    counts = Counter(mcan_answer(a.multiple_choice_answer) for a in annotations)
    return [answer for answer, count in counts.items() if count > min_count_exclusive]


def pytorch_vqa_answer_vocab(annotations: Iterable[VQAAnnotation], top_k: int = PYTORCH_VQA_TOP_K) -> list[str]:
    """pytorch-vqa's answer list from train annotations: top-k over all human answers, (count, answer) descending."""
    counts = Counter(pytorch_vqa_answer(text) for a in annotations for text in a.answers.texts)
    kept = [answer for answer, _ in counts.most_common(top_k)]
    return sorted(kept, key=lambda answer: (counts[answer], answer), reverse=True)


def read_answer_dict(path: str | Path) -> list[str]:
    """Answers in index order from mcan-vqa's published `core/data/answer_dict.json` (`[ans_to_ix, ix_to_ans]`)."""
    try:
        ans_to_ix, ix_to_ans = json.loads(Path(path).read_text())
        answers = [ix_to_ans[str(i)] for i in range(len(ix_to_ans))]
    except (OSError, ValueError, TypeError, KeyError) as error:
        raise VlkitError(f"{path} is not mcan-vqa's answer_dict.json ([ans_to_ix, ix_to_ans]): {error}") from error
    if any(ans_to_ix.get(a) != i for i, a in enumerate(answers)):
        raise VlkitError(f"{path}: ans_to_ix and ix_to_ans disagree")
    return answers


@dataclass(frozen=True)
class Coverage:
    """How much of a split an answer list can express, in percent of questions."""

    questions: int
    majority_in_vocab: float  # the normalised multiple_choice_answer is in the list
    answerable: float  # at least one normalised human answer is in the list
    best_possible_accuracy: float  # mean over questions of the best official accuracy a listed answer scores


def coverage(annotations: Sequence[VQAAnnotation], vocab: Sequence[str], normalise: Callable[[str], str]
             ) -> Coverage:
    """Coverage of `vocab` on the annotations, with the normalisation that built it."""
    listed = set(vocab)
    majority = answerable = 0
    best = 0.0
    for annotation in annotations:
        majority += normalise(annotation.multiple_choice_answer) in listed
        candidates = {normalise(text) for text in annotation.answers.texts} & listed
        answerable += bool(candidates)
        best += max((question_accuracy(c, annotation.answers) for c in candidates), default=0.0)
    total = max(len(annotations), 1)
    return Coverage(len(annotations), round(100 * majority / total, 2), round(100 * answerable / total, 2),
                    round(100 * best / total, 2))


def mcan_soft_score(count: int, humans: int) -> float:
    """MCAN's target for an answer `count` of `humans` people gave: min(1, 0.3 x count)."""
    return min(1.0, 0.3 * count)


def pytorch_vqa_soft_score(count: int, humans: int) -> float:
    """pytorch-vqa's target: the share of humans who gave the answer (count x 0.1 for 10 answers)."""
    return count / humans


@dataclass(frozen=True)
class AnswerListKind:
    """One reference system's answer list: build(annotations) -> answers, its normalisation, its target score."""

    build: Callable[[Sequence[VQAAnnotation]], list[str]]
    normalise: Callable[[str], str]
    soft_score: Callable[[int, int], float]


ANSWER_LISTS = {
    "mcan": AnswerListKind(mcan_answer_vocab, mcan_answer, mcan_soft_score),
    "pytorch-vqa": AnswerListKind(pytorch_vqa_answer_vocab, pytorch_vqa_answer, pytorch_vqa_soft_score),
}


def soft_targets(annotations: Sequence[VQAAnnotation], answers: list[str], kind: str
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Soft targets over `answers` in CSR form: offsets (N + 1,) int64, answer columns (nnz,) int64, scores
    (nnz,) float32; question i's targets are columns[offsets[i]:offsets[i + 1]]. Human answers are
    normalised as the list of `kind` was, and each listed answer scores `kind`'s soft_score."""
    kind_rules = ANSWER_LISTS[kind]
    index = {answer: i for i, answer in enumerate(answers)}
    offsets, columns, scores = [0], [], []
    for annotation in annotations:
        counts = Counter(kind_rules.normalise(text) for text in annotation.answers.texts)
        for answer, count in counts.items():
            if answer in index:
                columns.append(index[answer])
                scores.append(kind_rules.soft_score(count, len(annotation.answers.texts)))
        offsets.append(len(columns))
    return np.asarray(offsets, np.int64), np.asarray(columns, np.int64), np.asarray(scores, np.float32)
