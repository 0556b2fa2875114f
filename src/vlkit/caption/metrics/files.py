"""Reading and checking the two files of `vlkit caption score`, before any scoring starts.

- references: COCO captions annotations, `{"annotations": [{"image_id", "caption", ...}], "images": [...], ...}`
  (`captions_val2014.json`); only `annotations` is read.
- predictions: the COCO results format, `[{"image_id", "caption"}]`, one caption per image.

A wrong file is one error naming the file, what it is (a VQA questions / annotations file, a Karpathy
`dataset_*.json`, a results list) and what was expected.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

from vlkit.core.errors import VlkitError

ImageId = Union[int, str]
REFERENCES_EXPECTED = 'COCO caption annotations {"annotations": [{"image_id", "caption"}, ...]} (captions_val2014.json)'
PREDICTIONS_EXPECTED = 'COCO caption results [{"image_id", "caption"}, ...]'


@dataclass(frozen=True)
class CaptionFiles:
    """The captions to score: every predicted image has references; `unpredicted` counts reference images
    without a prediction (not scored, as COCOEvalCap scores the images of its results)."""

    references: dict[ImageId, list[str]]
    predictions: dict[ImageId, str]
    unpredicted: int


def load_json(path: Path, what: str) -> Any:
    """The parsed file; a missing file, text that is not UTF-8 or invalid JSON is an error naming file, line and
    column."""
    if not path.is_file():
        raise VlkitError(f"{what} file not found: {path}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise VlkitError(f"{what} file {path} is not UTF-8 text: {error}") from error
    except json.JSONDecodeError as error:
        raise VlkitError(f"{what} file {path} is not valid JSON: {error.msg} at line {error.lineno}, "
                         f"column {error.colno}") from error


def _what_else(data: Any) -> str:
    """A short description of a JSON value that is not a COCO captions file."""
    if isinstance(data, list):
        if data and isinstance(data[0], dict) and "caption" in data[0]:
            return "a caption results list (that is the --predictions format)"
        if data and isinstance(data[0], dict) and "question_id" in data[0]:
            return "a VQA results list"
        return "a JSON list"
    if not isinstance(data, dict):
        return f"a JSON {type(data).__name__}"
    if "questions" in data:
        return 'a VQA questions file (it has "questions")'
    if _vqa_annotations(data.get("annotations")):
        return "a VQA annotations file (its annotations have question_id/answers)"
    images = data.get("images")
    if "annotations" not in data and isinstance(images, list) and images and isinstance(images[0], dict) \
            and "sentences" in images[0]:
        return 'a Karpathy split file (dataset_*.json: "images" with "sentences"); use the COCO captions file'
    return f"an object with keys {sorted(data)[:8]}"


def _vqa_annotations(annotations: Any) -> bool:
    """Whether an "annotations" value is a VQA annotations list (question ids and human answers, no captions)."""
    first = annotations[0] if isinstance(annotations, list) and annotations else None
    return isinstance(first, dict) and "caption" not in first and ("question_id" in first or "answers" in first)


def _image_id(value: Any, where: str, path: Path) -> ImageId:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise VlkitError(f"{path}: {where} has image_id {value!r}: must be an integer or a string")
    return value


def _caption(value: Any, where: str, path: Path) -> str:
    if not isinstance(value, str):
        raise VlkitError(f"{path}: {where} has caption {value!r}: must be a string")
    if not value.strip():
        raise VlkitError(f"{path}: {where} has an empty caption")
    return value


def read_references(path: Path) -> dict[ImageId, list[str]]:
    """Image id -> its reference captions, in file order."""
    data = load_json(path, "references")
    annotations = data.get("annotations") if isinstance(data, dict) else None
    if not isinstance(annotations, list) or "questions" in data or _vqa_annotations(annotations):
        raise VlkitError(f"references file {path} is {_what_else(data)}; expected {REFERENCES_EXPECTED}")
    references: dict[ImageId, list[str]] = {}
    for index, entry in enumerate(annotations):
        where = f"annotation #{index}"
        if not isinstance(entry, dict) or "image_id" not in entry or "caption" not in entry:
            raise VlkitError(f"{path}: {where} lacks image_id or caption; expected {REFERENCES_EXPECTED}")
        image_id = _image_id(entry["image_id"], where, path)
        references.setdefault(image_id, []).append(_caption(entry["caption"], where, path))
    if not references:
        raise VlkitError(f"references file {path} has no annotations")
    return references


def read_predictions(path: Path) -> dict[ImageId, str]:
    """Image id -> its predicted caption; a second prediction for one image is an error."""
    data = load_json(path, "predictions")
    if not isinstance(data, list):
        raise VlkitError(f"predictions file {path} is {_what_else(data)}; expected {PREDICTIONS_EXPECTED}")
    if not data:
        raise VlkitError(f"predictions file {path} is an empty list")
    predictions: dict[ImageId, str] = {}
    for index, entry in enumerate(data):
        where = f"prediction #{index}"
        if not isinstance(entry, dict) or "image_id" not in entry or "caption" not in entry:
            raise VlkitError(f"{path}: {where} lacks image_id or caption; expected {PREDICTIONS_EXPECTED}")
        image_id = _image_id(entry["image_id"], where, path)
        if image_id in predictions:
            raise VlkitError(f"{path}: {where} is a second prediction for image_id {image_id!r}; "
                             "give one caption per image")
        predictions[image_id] = _caption(entry["caption"], where, path)
    return predictions


def read_caption_files(references_path: Path, predictions_path: Path) -> CaptionFiles:
    """Both files, checked against each other: every predicted image must have references."""
    references = read_references(references_path)
    predictions = read_predictions(predictions_path)
    unknown = [i for i in predictions if i not in references]
    if unknown:
        raise VlkitError(f"{len(unknown)} predicted image_id(s) are not in the references {references_path}, "
                         f"e.g. {unknown[:5]}")
    return CaptionFiles(references, predictions, sum(i not in predictions for i in references))
