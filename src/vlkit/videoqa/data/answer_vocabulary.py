"""The answer classes of open-ended video QA, built from the train answers the way HCRN builds them.

HCRN (thaolmk54/hcrn-videoqa, preprocess/datautils/msvd_qa.py and msrvtt_qa.py, identical on this
point; DualVGR, NJUPT-MCC/DualVGR-VideoQA, ships the same files unchanged):
- the answers of the train split are counted as they are written (no lower-casing or stripping), in
  the order they first appear in `train_qa.json`;
- the `answer_top` most frequent are kept (`--answer_top`, default 4000, preprocess/preprocess_questions.py)
  with `Counter.most_common`, which is stable: answers with equal counts keep their order of first
  appearance in the train file;
- the classes are `<UNK0>` (0) and `<UNK1>` (1), then the kept answers, most frequent first;
- an answer outside the list becomes class 0 in the train split and class 1 in val and test, so no
  val/test question outside the list can be answered right (no model is trained towards class 1).

On MSVD-QA the 1,852 distinct train answers all fit in 4,000: 1,854 classes.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from vlkit.core.errors import VlkitError
from vlkit.core.files import write_text_atomic
from vlkit.videoqa.data.annotations import load_json

UNKNOWN_TRAIN = 0
UNKNOWN_EVAL = 1
UNKNOWN_NAMES = ("<UNK0>", "<UNK1>")
DEFAULT_TOP_N = 4000
_FILE_KIND = "vlkit video QA answers"


class AnswerVocabulary:
    """Answer string <-> class index: the two unknown classes, then the kept train answers, most frequent first."""

    def __init__(self, answers: Sequence[str]):
        """`answers`: every class name in index order, the unknown classes first (as `save` writes them)."""
        answers = list(answers)
        if tuple(answers[:2]) != UNKNOWN_NAMES:
            raise VlkitError(f"answer classes must start with the unknown classes {list(UNKNOWN_NAMES)}; "
                             f"found {answers[:2]}")
        if len(answers) < 3:
            raise VlkitError("an answer vocabulary needs at least one answer besides the two unknown classes")
        bad = [answer for answer in answers if not isinstance(answer, str) or not answer.strip()]
        if bad:
            raise VlkitError(f"answer classes must be non-empty strings; found {bad[:5]}")
        repeated = [answer for answer, count in Counter(answers).items() if count > 1]
        if repeated:
            raise VlkitError(f"answer classes must be unique; repeated: {repeated[:5]}")
        self.answers: list[str] = answers
        self._index = {answer: index for index, answer in enumerate(answers[2:], start=2)}

    @classmethod
    def build(cls, train_answers: Iterable[str], top_n: int = DEFAULT_TOP_N) -> "AnswerVocabulary":
        """The `top_n` most frequent train answers (ties: first appearance in the train file) after the unknowns."""
        if isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1:
            raise VlkitError(f"top_n must be a positive integer (HCRN's answer_top, default {DEFAULT_TOP_N}); "
                             f"got {top_n!r}")
        counts = Counter(train_answers)
        if not counts:
            raise VlkitError("no train answers to build the answer vocabulary from")
        clashing = [answer for answer in UNKNOWN_NAMES if answer in counts]
        if clashing:
            raise VlkitError(f"train answer(s) {clashing} are named like the unknown classes; rename them")
        kept = sorted(counts, key=counts.__getitem__, reverse=True)[:top_n]
        return cls([*UNKNOWN_NAMES, *kept])

    def __len__(self) -> int:
        return len(self.answers)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AnswerVocabulary) and self.answers == other.answers

    def __repr__(self) -> str:
        return f"AnswerVocabulary({len(self)} classes: {self.answers[2:7]}...)"

    def __contains__(self, answer: str) -> bool:
        """Whether `answer` is one of the kept answers (the unknown classes are not answers)."""
        return answer in self._index

    def encode(self, answer: str, training: bool) -> int:
        """The class of `answer`; outside the list UNKNOWN_TRAIN (0) when `training`, else UNKNOWN_EVAL (1)."""
        return self._index.get(answer, UNKNOWN_TRAIN if training else UNKNOWN_EVAL)

    def encode_all(self, answers: Iterable[str], training: bool) -> np.ndarray:
        """Classes of the answers: (N,) int64, unknown answers as in `encode`."""
        unknown = UNKNOWN_TRAIN if training else UNKNOWN_EVAL
        return np.fromiter((self._index.get(answer, unknown) for answer in answers), dtype=np.int64)

    def decode(self, index: int) -> str:
        """The class name of `index` (0 <= index < len(self)); the unknown classes decode to their names."""
        index = int(index)
        if not 0 <= index < len(self.answers):
            raise VlkitError(f"answer index {index} is outside the {len(self.answers)} answer classes; "
                             "were the predictions made with another answer vocabulary?")
        return self.answers[index]

    def save(self, path: str | Path) -> None:
        """Write the classes as JSON (atomically): {"kind", "answers": [every class in index order]}."""
        write_text_atomic(path, json.dumps({"kind": _FILE_KIND, "answers": self.answers}, indent=0) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "AnswerVocabulary":
        """The vocabulary `save` wrote; a missing, damaged or foreign file is an error naming it."""
        data: Any = load_json(path, "a video QA answer vocabulary (answers.json)")
        expected = f'{{"kind": "{_FILE_KIND}", "answers": [{", ".join(map(repr, UNKNOWN_NAMES))}, ...]}}'
        if not isinstance(data, dict) or data.get("kind") != _FILE_KIND or not isinstance(data.get("answers"), list):
            found = f"an object with keys {sorted(data)[:8]}" if isinstance(data, dict) else type(data).__name__
            raise VlkitError(f"{path} is not a video QA answer vocabulary: expected {expected}; found {found}")
        try:
            return cls(data["answers"])
        except VlkitError as error:
            raise VlkitError(f"{path} is a damaged answer vocabulary: {error}") from error
