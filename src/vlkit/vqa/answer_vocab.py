"""Answer vocabularies and soft training targets the way the reference VQA systems build them.

- MCAN (MILVLG/mcan-vqa): each `multiple_choice_answer` of train+val normalised with the official
  rules plus comma removal, kept when seen more than 8 times, in order of first appearance
  (3,129 answers on VQA v2); targets min(1, 0.3 x number of humans who gave the answer).
- pytorch-vqa (Cyanogenoid/pytorch-vqa): all 10 human answers of train with its regular-expression
  version of the punctuation rule, the 3,000 most frequent, sorted by (count, answer) descending;
  targets are the answer counts (the loss weighs each by 0.1).
- exact: the official 10-choose-9 accuracy a prediction of each answer would score, for any
  number of human answers (for 10 answers it equals min(1, 0.3 x count)).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from vlkit.vqa.answers import clean_whitespace, normalize_answer, process_digits_articles, process_punctuation
from vlkit.vqa.official_metric import HumanAnswers, question_accuracy
from vlkit.vqa.vqa_files import VQAAnnotation

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


def mcan_soft_scores(human: HumanAnswers) -> dict[str, float]:
    """MCAN's targets: normalised answer -> min(1, 0.3 x number of humans who gave it)."""
    counts = Counter(mcan_answer(text) for text in human.texts)
    return {answer: min(1.0, 0.3 * count) for answer, count in counts.items()}


def exact_soft_scores(human: HumanAnswers) -> dict[str, float]:
    """Answer -> the official 10-choose-9 accuracy that predicting it scores (current evaluator rules).

    Unanimous human answers are compared unnormalised by the evaluator, so the only answer that
    scores is the (whitespace-cleaned) answer itself.
    """
    cleaned = [clean_whitespace(text) for text in human.texts]
    if len(set(cleaned)) == 1:
        return {cleaned[0]: 1.0}
    targets = [normalize_answer(text) for text in cleaned]
    n = len(targets)
    counts = Counter(targets)
    return {answer: (c * min(1.0, (c - 1) / 3) + (n - c) * min(1.0, c / 3)) / n for answer, c in counts.items()}
