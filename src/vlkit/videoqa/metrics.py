"""Video QA accuracy, overall and per question type, as HCRN and DualVGR report it on MSVD-QA / MSRVTT-QA.

The reference (HCRN's validate.py, thaolmk54/hcrn-videoqa; DualVGR's validate.py,
NJUPT-MCC/DualVGR-VideoQA) compares the predicted class index with the gold class index, so a val/test
answer outside the answer vocabulary (gold class 1, `<UNK1>`) can never be answered right: no model is
trained towards class 1. `score_indices` makes that rule explicit: a question whose gold class is an
unknown class (0 or 1) is wrong whatever was predicted. DualVGR's per-type accuracies group questions
by their first word (what, who, how, when, where) and divide by the questions of each type.

`score_answers` and `score_prediction_files` compare answer strings exactly, as written (MSVD-QA and
MSRVTT-QA answers are lower-case already and the reference normalises nothing): an answer decoded
from the vocabulary is right exactly when its class index would be.

Every report is {"accuracy": %, "per_type": {type: %}, "num_questions": N, "per_type_count": {type: n}},
percentages rounded to 2 decimals; the types come in the papers' order (what, who, how, when, where),
then any other first word alphabetically.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from vlkit.core.errors import VlkitError
from vlkit.videoqa.data.annotations import QARecord, load_json, question_type, read_qa_file
from vlkit.videoqa.data.answer_vocabulary import UNKNOWN_EVAL

if TYPE_CHECKING:
    import torch

QUESTION_TYPES = ("what", "who", "how", "when", "where")
_PREDICTIONS = 'a JSON list of {"id": int, "answer": str} objects, one per question'
_EXAMPLES = 5


def accuracy_report(correct: np.ndarray, types: Sequence[str]) -> dict:
    """The report of per-question outcomes: correct (N,) bool with each question's type (N,)."""
    if len(correct) != len(types):
        raise VlkitError(f"{len(correct)} outcomes but {len(types)} question types")
    if len(correct) == 0:
        raise VlkitError("no questions to score")
    right: Counter[str] = Counter()
    asked: Counter[str] = Counter(types)
    for kind, outcome in zip(types, correct.tolist()):
        right[kind] += outcome
    order = [kind for kind in QUESTION_TYPES if kind in asked] + sorted(set(asked) - set(QUESTION_TYPES))
    return {
        "accuracy": round(100.0 * int(correct.sum()) / len(correct), 2),
        "per_type": {kind: round(100.0 * right[kind] / asked[kind], 2) for kind in order},
        "num_questions": len(correct),
        "per_type_count": {kind: asked[kind] for kind in order},
    }


def score_indices(predicted: np.ndarray | torch.Tensor, gold: np.ndarray | torch.Tensor, types: Sequence[str]
                  ) -> dict:
    """Accuracy of predicted classes (N,) against gold classes (N,) (gold 0 or 1, unknown, is always wrong)."""
    predicted, gold = _numpy(predicted), _numpy(gold)
    if predicted.shape != gold.shape or predicted.ndim != 1:
        raise VlkitError(f"predicted classes {predicted.shape} and gold classes {gold.shape} must both be (N,)")
    return accuracy_report((predicted == gold) & (gold > UNKNOWN_EVAL), types)


def score_answers(records: Sequence[QARecord], predicted: Sequence[str]) -> dict:
    """Accuracy of predicted answer strings, one per record in the same order, by exact string match."""
    if len(records) != len(predicted):
        raise VlkitError(f"{len(predicted)} predicted answers for {len(records)} questions")
    correct = np.fromiter((answer == record.answer for record, answer in zip(records, predicted)),
                          dtype=bool, count=len(records))
    return accuracy_report(correct, [question_type(record.question) for record in records])


def read_predictions(path: str | Path) -> list[tuple[int, str]]:
    """(id, answer) of every row of a predictions file, in file order, each row checked."""
    path = Path(path)
    data: Any = load_json(path, f"a video QA predictions file ({_PREDICTIONS})")
    if not isinstance(data, list):
        found = f"an object with keys {sorted(data)[:8]}" if isinstance(data, dict) else type(data).__name__
        raise VlkitError(f"{path}: expected {_PREDICTIONS}; found {found}")
    rows = []
    for position, row in enumerate(data):
        label = f"{path}: row {position}"
        if not isinstance(row, dict):
            raise VlkitError(f"{label} is a {type(row).__name__}, not an object; expected {_PREDICTIONS}")
        missing = [key for key in ("id", "answer") if key not in row]
        if missing:
            raise VlkitError(f"{label} lacks {', '.join(map(repr, missing))} (it has {sorted(row)[:8]}); "
                             f"expected {_PREDICTIONS}")
        if not isinstance(row["id"], int) or isinstance(row["id"], bool):
            raise VlkitError(f"{label} has id {row['id']!r} ({type(row['id']).__name__}), not an integer")
        if not isinstance(row["answer"], str):
            raise VlkitError(f"{label} has answer {row['answer']!r} ({type(row['answer']).__name__}), not a string: "
                             "predictions hold answer text, not class indices")
        rows.append((row["id"], row["answer"]))
    return rows


def score_prediction_files(annotations_path: str | Path, predictions_path: str | Path) -> dict:
    """Accuracy of a predictions file against a `<split>_qa.json`: every question answered exactly once."""
    records = read_qa_file(annotations_path)
    predictions = read_predictions(predictions_path)
    answers = _check_coverage(records, predictions, Path(annotations_path), Path(predictions_path))
    return score_answers(records, [answers[record.id] for record in records])


def _check_coverage(records: Sequence[QARecord], predictions: list[tuple[int, str]], annotations_path: Path,
                    predictions_path: Path) -> dict[int, str]:
    """id -> predicted answer, after checking that the predictions answer every question once and nothing else."""
    counts = Counter(qid for qid, _ in predictions)
    asked = {record.id for record in records}
    repeated = sorted(qid for qid, count in counts.items() if count > 1)
    unknown = sorted(set(counts) - asked)
    missing = sorted(asked - set(counts))
    if not (repeated or unknown or missing):
        return dict(predictions)
    if predictions and not asked & set(counts):
        raise VlkitError(f"{predictions_path} answers none of the {len(asked)} questions of {annotations_path}: "
                         "are the predictions for another split?")
    problems = [f"{len(ids)} {what} (e.g. {ids[:_EXAMPLES]})"
                for what, ids in (("missing", missing), ("unknown", unknown), ("repeated", repeated)) if ids]
    raise VlkitError(f"{predictions_path} must answer every question of {annotations_path} exactly once: "
                     f"ids {'; '.join(problems)}")


def _numpy(values: np.ndarray | torch.Tensor) -> np.ndarray:
    """A numpy view of an array or a (possibly GPU) tensor."""
    if hasattr(values, "detach"):
        return values.detach().cpu().numpy()
    return np.asarray(values)
