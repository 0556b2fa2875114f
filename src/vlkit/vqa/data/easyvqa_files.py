"""Reader for the easy-VQA dataset in the layout its PyPI package ships.

`<root>/answers.txt` (one answer a line), `<root>/{train,test}/questions.json` (a JSON list of
`[question, answer, image_id]` triples) and `<root>/{train,test}/images/<image_id>.png` (64x64 RGB).
The package holds 4,000 train / 1,000 test images, 38,575 / 9,673 questions and 13 answers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from vlkit.core.errors import VlkitError

SHAPES = frozenset({"circle", "rectangle", "triangle"})
YES_NO = frozenset({"yes", "no"})
ANSWER_TYPES = ("yes/no", "shape", "color")
SPLITS = ("train", "test")


@dataclass
class EasyVQASplit:
    """One split: parallel lists of questions, answers and image ids, and each image's file."""

    questions: list[str]
    answers: list[str]
    image_ids: list[int]
    image_paths: dict[int, Path]


def answer_type(answer: str) -> str:
    """easy-VQA answer type of a ground-truth answer: yes/no, shape or color."""
    if answer in YES_NO:
        return "yes/no"
    if answer in SHAPES:
        return "shape"
    return "color"


def default_root() -> Path:
    """The data folder inside the installed `easy-vqa` package."""
    try:
        import easy_vqa
    except ImportError as error:
        raise VlkitError("the easy-VQA data comes from the `easy-vqa` package: pip install easy-vqa") from error
    return Path(easy_vqa.__file__).parent / "data"


def read_answers(root: Path) -> list[str]:
    """The answer list of `root/answers.txt`, in file order."""
    path = root / "answers.txt"
    if not path.is_file():
        raise VlkitError(f"easy-VQA answer list not found: {path} (expected the easy-vqa package's data layout)")
    answers = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if len(set(answers)) != len(answers):
        raise VlkitError(f"{path} lists an answer twice")
    return answers


def read_split(root: Path, split: str, answers: list[str]) -> EasyVQASplit:
    """Read and validate `root/<split>/questions.json` and locate the images it names."""
    if split not in SPLITS:
        raise VlkitError(f"easy-VQA has splits {SPLITS}, not {split!r}")
    path = root / split / "questions.json"
    records = _load_triples(path)
    known = set(answers)
    unknown = sorted({r[1] for r in records} - known)
    if unknown:
        raise VlkitError(f"{path}: answers {unknown[:10]} are not in {root / 'answers.txt'}")
    image_dir = root / split / "images"
    image_ids = sorted({r[2] for r in records})
    image_paths = {i: image_dir / f"{i}.png" for i in image_ids}
    missing = [str(p) for p in image_paths.values() if not p.is_file()]
    if missing:
        raise VlkitError(f"{len(missing)} image file(s) named by {path} are missing, e.g. {missing[:5]}")
    return EasyVQASplit(
        questions=[r[0] for r in records],
        answers=[r[1] for r in records],
        image_ids=[r[2] for r in records],
        image_paths=image_paths,
    )


def _load_triples(path: Path) -> list[tuple[str, str, int]]:
    if not path.is_file():
        raise VlkitError(f"easy-VQA questions file not found: {path}")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise VlkitError(f"{path} is not valid JSON: {error}") from error
    expected = "a JSON list of [question, answer, image_id] triples (easy-VQA format)"
    if not isinstance(data, list):
        keys = list(data)[:5] if isinstance(data, dict) else type(data).__name__
        raise VlkitError(f"{path}: expected {expected}, found an object with keys {keys}")
    records = []
    for position, item in enumerate(data):
        valid = (
            isinstance(item, list) and len(item) == 3 and isinstance(item[0], str)
            and isinstance(item[1], str) and isinstance(item[2], int)
        )
        if not valid:
            raise VlkitError(f"{path}: item {position} is {item!r}; expected {expected}")
        if not item[0].strip():
            raise VlkitError(f"{path}: item {position} has an empty question")
        records.append((item[0], item[1], item[2]))
    if not records:
        raise VlkitError(f"{path} holds no questions")
    return records
