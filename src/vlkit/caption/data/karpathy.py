"""Reader for Karpathy's caption split files: `dataset_coco.json`, `dataset_flickr8k.json`, `dataset_flickr30k.json`.

The format (from Karpathy's `caption_datasets.zip`; the field names checked against the readers of
sgrvinod/a-PyTorch-Tutorial-to-Image-Captioning `utils.py` and ruotianluo's `prepro_labels.py`):

    {"dataset": "coco" | "flickr8k" | "flickr30k",
     "images": [{"filepath": "val2014",                 # COCO only
                 "filename": "COCO_val2014_000000391895.jpg",
                 "imgid": 0,                             # position in the file, every dataset
                 "cocoid": 391895,                       # COCO only
                 "split": "train" | "restval" | "val" | "test",
                 "sentids": [...],
                 "sentences": [{"tokens": ["a", "man", ...], "raw": "A man ...", "imgid": 0, "sentid": 0}]}]}

Image ids are `cocoid` where the record has one (COCO, so that they match the COCO annotation files
and feature stores), else `imgid` (Flickr). Image files are `images_root/filepath/filename` where the
record has a `filepath` (COCO: `val2014`, `train2014`), else `images_root/filename` (Flickr).

`restval` holds the 30504 COCO val2014 images outside Karpathy's 5000 val and 5000 test images. It
joins train by default (as the tutorial, neuraltalk2 and self-critical do); `restval="separate"`
keeps it as its own split.

A file of exactly this shape is typed in one C pass (msgspec; dataset_coco.json reads in ~3 s); any
other file is read as plain JSON and checked record by record, so that its error names the record.
"""

from __future__ import annotations

import gc
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import msgspec

from vlkit.core.errors import VlkitError

FILE_SPLITS = ("train", "restval", "val", "test")
RESTVAL_CHOICES = ("train", "separate")
_EXPECTED = ("a Karpathy split file (dataset_coco.json, dataset_flickr8k.json or dataset_flickr30k.json): "
             "an object with an 'images' list of {filename, imgid, split, sentences: [{tokens, raw}]}")


@dataclass(frozen=True)
class KarpathyImage:
    """One image of a Karpathy file with its captions: `tokens[i]` is the tokenised form of `raw[i]`."""

    image_id: int
    split: str
    filename: str
    filepath: Optional[str]
    path: Path
    tokens: tuple[tuple[str, ...], ...]
    raw: tuple[str, ...]


@dataclass(frozen=True)
class KarpathyDataset:
    """Every image of a Karpathy file, in file order; `name` is its "dataset" field (coco, flickr8k, ...)."""

    name: str
    source: Path
    images: tuple[KarpathyImage, ...]

    def split(self, name: str, restval: str = "train") -> list[KarpathyImage]:
        """Images of one split in file order; with `restval="train"` the train split includes restval."""
        if restval not in RESTVAL_CHOICES:
            raise VlkitError(f"restval must be one of {', '.join(RESTVAL_CHOICES)}, got {restval!r}")
        if name not in split_names(restval):
            raise VlkitError(f"unknown split {name!r}; with restval={restval!r} the splits are "
                             f"{', '.join(split_names(restval))}")
        members = {"train", "restval"} if name == "train" and restval == "train" else {name}
        return [image for image in self.images if image.split in members]


def split_names(restval: str) -> tuple[str, ...]:
    """The splits of a Karpathy dataset: train, val, test, and restval when it is kept separate."""
    return ("train", "restval", "val", "test") if restval == "separate" else ("train", "val", "test")


def read_karpathy(path: str | Path, images_root: str | Path | None = None) -> KarpathyDataset:
    """Read a Karpathy split file, every record checked; image paths are resolved under `images_root`
    (default: the folder of the file).

    Another well-known file given instead (VQA questions or annotations, COCO caption annotations) is
    an error saying what it is; invalid JSON is an error naming the line and column; a record lacking
    a key is an error naming the record.
    """
    path = Path(path)
    root = Path(images_root) if images_root is not None else path.parent
    if not path.is_file():
        raise VlkitError(f"Karpathy split file not found: {path}")
    raw = path.read_bytes()
    collecting = gc.isenabled()
    gc.disable()  # the collector would rescan the millions of new objects again and again (halves the time)
    try:
        return _typed_dataset(raw, path, root) or _checked_dataset(_load_json(raw, path), path, root)
    finally:
        if collecting:
            gc.enable()


class _Sentence(msgspec.Struct, gc=False):
    tokens: list[str]
    raw: Optional[str] = None


class _Image(msgspec.Struct, gc=False):
    filename: str
    split: str
    sentences: list[_Sentence]
    imgid: Optional[int] = None
    cocoid: Optional[int] = None
    filepath: Optional[str] = None


class _File(msgspec.Struct, gc=False):
    images: list[_Image]
    dataset: str = ""


_TYPED = msgspec.json.Decoder(_File)


def _typed_dataset(raw: bytes, path: Path, root: Path) -> Optional[KarpathyDataset]:
    """The dataset of a file that has the Karpathy shape exactly (types checked in one C pass), or None; a file
    that does not goes through `_checked_dataset`, whose errors name the record."""
    try:
        data = _TYPED.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    coco = data.dataset == "coco"
    images = []
    for record in data.images:
        image_id = record.cocoid if record.cocoid is not None else record.imgid
        if image_id is None or record.split not in FILE_SPLITS or not record.sentences \
                or (coco and (record.cocoid is None or record.filepath is None)):
            return None
        parent = root / record.filepath if record.filepath else root
        images.append(KarpathyImage(
            image_id, record.split, record.filename, record.filepath, parent / record.filename,
            tuple(tuple(sentence.tokens) for sentence in record.sentences),
            tuple(" ".join(s.tokens) if s.raw is None else s.raw for s in record.sentences)))
    return _dataset(data.dataset, path, tuple(images))


def _checked_dataset(data: Any, path: Path, root: Path) -> KarpathyDataset:
    """The dataset of plain JSON values, every record checked; errors say what is wrong and where."""
    foreign = _describe_foreign(data)
    if foreign:
        raise VlkitError(f"{path} is {foreign}, not a Karpathy split file; expected {_EXPECTED}")
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        found = f"an object with keys {sorted(data)[:8]}" if isinstance(data, dict) else f"a {type(data).__name__}"
        raise VlkitError(f"{path}: expected {_EXPECTED}; found {found}")
    name = str(data.get("dataset", ""))
    images = tuple(_image(record, position, path, root, name) for position, record in enumerate(data["images"]))
    return _dataset(name, path, images)


def _dataset(name: str, path: Path, images: tuple[KarpathyImage, ...]) -> KarpathyDataset:
    """The dataset, after checking that it has images and that their ids are unique."""
    if not images:
        raise VlkitError(f"{path} lists no images")
    seen: dict[int, str] = {}
    for image in images:
        if image.image_id in seen:
            raise VlkitError(f"{path}: images {seen[image.image_id]!r} and {image.filename!r} have the same image id "
                             f"{image.image_id}")
        seen[image.image_id] = image.filename
    return KarpathyDataset(name, path, images)


def _load_json(raw: bytes, path: Path) -> Any:
    """Plain JSON values of a file; invalid JSON is an error naming the file, line and column."""
    try:
        return msgspec.json.decode(raw)
    except msgspec.DecodeError as error:
        try:
            json.loads(raw)
        except UnicodeDecodeError:
            raise VlkitError(f"{path} is not UTF-8 text, so not a Karpathy split file") from error
        except json.JSONDecodeError as located:
            raise VlkitError(f"{path} is not valid JSON: {located.msg} at line {located.lineno} column "
                             f"{located.colno}") from error
        raise VlkitError(f"{path} is not valid JSON: {error}") from error


def _describe_foreign(data: Any) -> Optional[str]:
    """Name the well-known files that are not Karpathy files (VQA, COCO caption annotations), or None."""
    if not isinstance(data, dict):
        return None
    if isinstance(data.get("questions"), list):
        return "a VQA questions file ('questions' with 'question_id' and 'question')"
    annotations = data.get("annotations")
    if isinstance(annotations, list) and annotations and isinstance(annotations[0], dict):
        if "caption" in annotations[0]:
            return ("a COCO captions annotation file (captions_*.json: 'annotations' with 'image_id' and 'caption'); "
                    "the Karpathy splits of COCO are in dataset_coco.json of caption_datasets.zip")
        if "question_id" in annotations[0] or "answers" in annotations[0]:
            return "a VQA annotations file ('annotations' with 'question_id' and 'answers')"
    return None


def _image(record: Any, position: int, path: Path, root: Path, dataset: str) -> KarpathyImage:
    """One checked image record; errors name it by position and file name."""
    label = f"images[{position}]"
    if not isinstance(record, dict):
        raise VlkitError(f"{path}: {label} is a {type(record).__name__}, not an object; expected {_EXPECTED}")
    if isinstance(record.get("filename"), str):
        label += f" ({record['filename']})"
    required = ["filename", "split", "sentences", *(["filepath", "cocoid"] if dataset == "coco" else [])]
    missing = [key for key in required if key not in record]
    if "cocoid" not in record and "imgid" not in record:
        missing.append("imgid")
    if missing:
        raise VlkitError(f"{path}: {label} lacks {missing}; expected {_EXPECTED}")
    if record["split"] not in FILE_SPLITS:
        raise VlkitError(f"{path}: {label} has split {record['split']!r}; expected one of {', '.join(FILE_SPLITS)}")
    sentences = record["sentences"]
    if not isinstance(sentences, list) or not sentences:
        raise VlkitError(f"{path}: {label} needs a non-empty 'sentences' list of {{tokens, raw}} objects")
    tokens, raw = [], []
    for number, sentence in enumerate(sentences):
        if not isinstance(sentence, dict) or "tokens" not in sentence:
            raise VlkitError(f"{path}: {label} sentences[{number}] lacks 'tokens'; expected {{tokens, raw}} objects")
        words = sentence["tokens"]
        if not isinstance(words, list) or not all(isinstance(word, str) for word in words):
            raise VlkitError(f"{path}: {label} sentences[{number}] has tokens {str(words)[:60]}, not a list of words")
        tokens.append(tuple(words))
        raw.append(str(sentence.get("raw", " ".join(words))))
    image_id = record["cocoid"] if "cocoid" in record else record["imgid"]
    if not isinstance(image_id, int) or isinstance(image_id, bool):
        raise VlkitError(f"{path}: {label} has image id {image_id!r}, not an integer")
    filepath = record.get("filepath")
    parent = root / filepath if filepath else root
    return KarpathyImage(image_id, record["split"], record["filename"], filepath, parent / record["filename"],
                         tuple(tokens), tuple(raw))
