"""Question vocabularies the way the reference VQA systems build them (PAD 0 and UNK 1 first in every one).

- MCAN (MILVLG/mcan-vqa): MCAN tokens in order of first appearance over the question files it
  names: train, val, test2015 and Visual Genome, in that order, whatever the training split, so
  test-dev words are not UNK (`data.vocab_splits: train+val+test+vg`).
- pytorch-vqa (Cyanogenoid/pytorch-vqa): its tokens of the training questions, sorted by (count,
  token) descending; the reference numbers them from 1 with 0 for padding and unknown words alike,
  vlkit from 2 after PAD and UNK, in the same order.
- vlkit's own `words` tokenizer: first appearance, like MCAN.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Iterable

from vlkit.core.errors import VlkitError
from vlkit.text.tokenizers import TOKENIZERS
from vlkit.text.vocabulary import Vocabulary
from vlkit.vqa.data.official_files import read_questions
from vlkit.vqa.data.splits import split_files

MCAN_VOCAB_SPLITS = "train+val+test+vg"


def question_vocabulary(texts: Iterable[str], tokenizer: str) -> Vocabulary:
    """The vocabulary of `texts` in the order of the reference that `tokenizer` names."""
    if tokenizer == "pytorch-vqa":
        counts = Counter(token for text in texts for token in TOKENIZERS[tokenizer](text))
        return Vocabulary(sorted(counts, key=lambda token: (counts[token], token), reverse=True), tokenizer)
    return Vocabulary.in_first_appearance_order(texts, tokenizer)


def question_texts(root: str | Path, spec: str, version: str = "v2") -> list[str]:
    """The questions of every part of `spec` (e.g. "train+val+test+vg"), part by part in file order; any part,
    annotated or not, may be named."""
    parts = [part.strip() for part in spec.split("+") if part.strip()]
    if not parts:
        raise VlkitError(f"data.vocab_splits {spec!r} names no split")
    texts: list[str] = []
    for part in parts:
        questions_path, _ = split_files(Path(root), part, version)
        texts += [question.question for question in read_questions(questions_path).values()]
    return texts
