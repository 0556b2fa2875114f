"""MSVD-QA / MSRVTT-QA question files: `{train,val,test}_qa.json`, read unchanged and checked row by row.

Each file is one JSON list of `{"answer": str, "id": int, "question": str, "video_id": int}`; extra keys
(some copies add a `category_id`) are allowed and ignored. Ids are unique within a file
(MSVD-QA numbers its questions on from one split to the next: train 0-30932, val 30933-37347, test
37348-50504). A file of another kind (VQA questions or annotations, COCO captions, a Karpathy split)
is refused with a message that names what it is.

Question types: the MSVD-QA and MSRVTT-QA papers and the reference code (DualVGR's validate.py,
NJUPT-MCC/DualVGR-VideoQA) group questions by their first word: what, who, how, when, where. DualVGR
reads it as the first nltk token of the lower-cased question; `question_type` takes the first run of
letters and digits, which is the same word for every question of MSVD-QA.

How the reference turns these rows into model inputs (HCRN, thaolmk54/hcrn-videoqa,
preprocess/datautils/msvd_qa.py and msrvtt_qa.py; DualVGR reuses them unchanged), for the readers
that encode questions:
- a question is `question.lower()[:-1]` (the last character is dropped as the question mark; the
  MSVD-QA copy in shared/data has no question marks, so that rule would cut the last letter) split by
  `nltk.word_tokenize`;
- the question vocabulary is `<NULL>` (0, padding) and `<UNK>` (1), then every token of the train
  questions in order of first appearance, with no minimum count; val/test tokens outside it become 1;
- each split is padded with 0 to its longest question; a question's `question_id` there is its row
  position in the split, not the file's `id`.
The answer classes are built in `answer_vocabulary.py`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from vlkit.core.errors import VlkitError

SPLITS = ("train", "val", "test")
QA_FIELDS = ("answer", "id", "question", "video_id")
_EXPECTED = 'a JSON list of {"answer": str, "id": int, "question": str, "video_id": int} objects'
_FIRST_WORD = re.compile(r"[^\W_]+")
_EXAMPLES = 5


@dataclass(frozen=True)
class QARecord:
    """One question of a video QA split, as the file gives it."""

    id: int
    video_id: int
    question: str
    answer: str


def load_json(path: str | Path, what: str) -> Any:
    """The JSON value of a file; a missing file or invalid JSON is an error naming the file and `what` it should be."""
    path = Path(path)
    if not path.is_file():
        raise VlkitError(f"{what} file not found: {path}")
    try:
        return json.loads(path.read_bytes())
    except UnicodeDecodeError as error:
        raise VlkitError(f"{path} is not UTF-8 text, so not {what}") from error
    except json.JSONDecodeError as error:
        raise VlkitError(f"{path} is not valid JSON ({error.msg} at line {error.lineno} column {error.colno}); "
                         f"expected {what}") from error


def describe_foreign(data: Any) -> Optional[str]:
    """Name a well-known file that is not a video QA file (VQA, COCO captions, Karpathy split), or None."""
    if not isinstance(data, dict):
        return None
    annotations = data.get("annotations")
    first = annotations[0] if isinstance(annotations, list) and annotations else None
    if isinstance(first, dict) and "caption" in first:
        return "a COCO captions file (captions_*.json: 'annotations' with 'image_id' and 'caption')"
    if "questions" in data:
        return "a VQA questions file (v2_OpenEnded_mscoco_*_questions.json: 'questions' with 'question_id')"
    if annotations is not None and ("info" in data or "license" in data or isinstance(first, dict)):
        return "a VQA annotations file (v2_mscoco_*_annotations.json: 'annotations' with 'answers')"
    if "images" in data:
        return "a Karpathy split file (dataset_*.json: 'images' with 'sentences')"
    return None


def read_qa_file(path: str | Path) -> list[QARecord]:
    """The questions of one MSVD-QA / MSRVTT-QA `<split>_qa.json`, in file order, every row checked."""
    path = Path(path)
    data = load_json(path, "a video QA question file (<split>_qa.json)")
    foreign = describe_foreign(data)
    if foreign:
        raise VlkitError(f"{path} is {foreign}, not a video QA question file; expected {_EXPECTED}")
    if not isinstance(data, list):
        found = f"an object with keys {sorted(data)[:8]}" if isinstance(data, dict) else type(data).__name__
        raise VlkitError(f"{path}: expected {_EXPECTED}; found {found}")
    if not data:
        raise VlkitError(f"{path} lists no questions; expected {_EXPECTED}")
    records = [_record(row, position, path) for position, row in enumerate(data)]
    _check_unique_ids(records, path)
    return records


def read_qa_split(directory: str | Path, split: str) -> list[QARecord]:
    """The questions of `split` (train, val or test) from `<directory>/<split>_qa.json`."""
    if split not in SPLITS:
        raise VlkitError(f"unknown video QA split {split!r}; expected one of {', '.join(SPLITS)}")
    path = Path(directory) / f"{split}_qa.json"
    if not path.is_file():
        raise VlkitError(f"{split} split not found: {path}; an MSVD-QA / MSRVTT-QA directory holds "
                         f"{', '.join(f'{name}_qa.json' for name in SPLITS)}")
    return read_qa_file(path)


def question_type(question: str) -> str:
    """The question's type: its first word, lower-cased ("What is a man doing" -> "what")."""
    word = _FIRST_WORD.search(question.lower())
    if word is None:
        raise VlkitError(f"question {question!r} has no words, so no question type")
    return word.group()


def _record(row: Any, position: int, path: Path) -> QARecord:
    """One checked row; errors name the row's position in the file."""
    label = f"{path}: row {position}"
    if not isinstance(row, dict):
        raise VlkitError(f"{label} is a {type(row).__name__}, not an object; expected {_EXPECTED}")
    missing = [field for field in QA_FIELDS if field not in row]
    if missing:
        raise VlkitError(f"{label} lacks {', '.join(repr(field) for field in missing)} "
                         f"(it has {sorted(row)[:8]}); expected {_EXPECTED}")
    for field in ("id", "video_id"):
        if not isinstance(row[field], int) or isinstance(row[field], bool):
            raise VlkitError(f"{label} has {field} {row[field]!r} ({type(row[field]).__name__}), not an integer")
    for field in ("question", "answer"):
        if not isinstance(row[field], str):
            raise VlkitError(f"{label} has {field} {row[field]!r} ({type(row[field]).__name__}), not a string")
    if _FIRST_WORD.search(row["question"]) is None:
        raise VlkitError(f"{label} (id {row['id']}) has an empty question {row['question']!r}: it holds no word")
    if not row["answer"].strip():
        raise VlkitError(f"{label} (id {row['id']}) has an empty answer {row['answer']!r}")
    return QARecord(row["id"], row["video_id"], row["question"], row["answer"])


def _check_unique_ids(records: list[QARecord], path: Path) -> None:
    """Every id once; the error names a few repeated ids with the rows that hold them."""
    rows: dict[int, list[int]] = {}
    for position, record in enumerate(records):
        rows.setdefault(record.id, []).append(position)
    repeated = {qid: where for qid, where in rows.items() if len(where) > 1}
    if repeated:
        examples = "; ".join(f"id {qid} at rows {', '.join(map(str, where))}"
                             for qid, where in list(repeated.items())[:_EXAMPLES])
        raise VlkitError(f"{path}: {len(repeated)} question id(s) appear more than once ({examples}); "
                         "ids must be unique")
