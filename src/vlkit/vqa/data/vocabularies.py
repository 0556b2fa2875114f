"""What a VQA run keeps from its training data: the question vocabulary and the answer list."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from vlkit.core.errors import VlkitError
from vlkit.core.files import write_text_atomic
from vlkit.text.vocabulary import Vocabulary

RUN_FILES = ("vocab.json", "answers.json")


@dataclass
class VQAVocabularies:
    """Question words (PAD 0, UNK 1) and answers in class-index order."""

    questions: Vocabulary
    answers: list[str]


def write_vocabularies(run_dir: Path, vocabularies: VQAVocabularies) -> None:
    """Write `vocab.json` (question vocabulary) and `answers.json` (answer list) into a run directory."""
    vocabularies.questions.save(run_dir / "vocab.json")
    write_text_atomic(run_dir / "answers.json", json.dumps(vocabularies.answers))


def read_vocabularies(run_dir: Path) -> VQAVocabularies:
    """The vocabularies `write_vocabularies` wrote."""
    path = run_dir / "answers.json"
    if not path.is_file():
        raise VlkitError(f"answer list not found: {path}")
    return VQAVocabularies(Vocabulary.load(run_dir / "vocab.json"), json.loads(path.read_text()))
