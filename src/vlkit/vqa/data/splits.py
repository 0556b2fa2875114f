"""VQA splits from a folder of official files, combinable as `train`, `train+val`, `train+val+vg`.

File names, as the VQA site and MCAN distribute them (VQA v2; `version="v1"` drops the `v2_`):
    train     v2_OpenEnded_mscoco_train2014_questions.json  + v2_mscoco_train2014_annotations.json
    val       v2_OpenEnded_mscoco_val2014_questions.json    + v2_mscoco_val2014_annotations.json
    vg        VG_questions.json                             + VG_annotations.json  (MCAN's Visual Genome QA)
    test-dev  v2_OpenEnded_mscoco_test-dev2015_questions.json  (no annotations)
    test      v2_OpenEnded_mscoco_test2015_questions.json      (no annotations)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from vlkit.core.errors import VlkitError
from vlkit.vqa.data.official_checks import check_pairing
from vlkit.vqa.data.official_files import VQAAnnotation, VQAQuestion, read_annotations, read_questions

ANNOTATED = ("train", "val", "vg")
QUESTIONS_ONLY = ("test-dev", "test")
_COCO_SUBSETS = {"train": "train2014", "val": "val2014", "test-dev": "test-dev2015", "test": "test2015"}


@dataclass
class VQASplit:
    """Questions of one or more parts; annotations unless a part has none (test-dev, test)."""

    name: str
    questions: dict[int, VQAQuestion]
    annotations: Optional[dict[int, VQAAnnotation]]


def split_files(root: Path, part: str, version: str = "v2") -> tuple[Path, Optional[Path]]:
    """(questions file, annotations file or None) of one part."""
    if part == "vg":
        return root / "VG_questions.json", root / "VG_annotations.json"
    if part not in _COCO_SUBSETS:
        raise VlkitError(f"unknown VQA split {part!r}; parts are {', '.join([*ANNOTATED, *QUESTIONS_ONLY])}, "
                         "combined with '+' (e.g. train+val+vg)")
    prefix = {"v2": "v2_", "v1": ""}.get(version)
    if prefix is None:
        raise VlkitError(f"unknown VQA version {version!r}; use v1 or v2")
    subset = _COCO_SUBSETS[part]
    questions = root / f"{prefix}OpenEnded_mscoco_{subset}_questions.json"
    annotations = root / f"{prefix}mscoco_{subset}_annotations.json" if part in ANNOTATED else None
    return questions, annotations


def load_split(spec: str, root: str | Path, version: str = "v2") -> VQASplit:
    """Read and join the parts of `spec` (e.g. "train+val+vg"); question ids must not repeat across parts."""
    root = Path(root)
    parts = [p.strip() for p in spec.split("+") if p.strip()]
    if not parts:
        raise VlkitError("empty VQA split name")
    if any(p in QUESTIONS_ONLY for p in parts) and len(parts) > 1:
        raise VlkitError(f"{spec!r}: test-dev and test have no annotations and cannot be combined with other parts")
    questions: dict[int, VQAQuestion] = {}
    annotations: Optional[dict[int, VQAAnnotation]] = {} if parts[0] in ANNOTATED else None
    for part in parts:
        questions_path, annotations_path = split_files(root, part, version)
        part_questions = read_questions(questions_path)
        repeated = set(part_questions) & set(questions)
        if repeated:
            raise VlkitError(f"{len(repeated)} question id(s) of {part!r} already appear in another part of {spec!r}")
        questions.update(part_questions)
        if annotations_path is not None and annotations is not None:
            part_annotations = read_annotations(annotations_path)
            check_pairing(questions_path, part_questions, part_annotations)
            annotations.update(part_annotations)
    return VQASplit(spec, questions, annotations)
