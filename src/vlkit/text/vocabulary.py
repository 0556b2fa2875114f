"""Word vocabularies: word <-> index with PAD and UNK, and the tokenizer (by name) that splits their texts."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Iterable, Optional

import torch

from vlkit.core.errors import VlkitError
from vlkit.core.files import write_text_atomic
from vlkit.text.tokenizers import TOKENIZERS, tokenize

PAD_TOKEN = "<pad>"
UNK_TOKEN = "<unk>"


class Vocabulary:
    """Word <-> index map with PAD at 0 and UNK at 1, and the tokenizer (by name) that splits its texts."""

    def __init__(self, words: Iterable[str], tokenizer: str = "words"):
        if tokenizer not in TOKENIZERS:
            raise ValueError(f"unknown tokenizer {tokenizer!r}; choose one of {sorted(TOKENIZERS)}")
        self.tokenizer = tokenizer
        self.tokenize = TOKENIZERS[tokenizer]
        self.itos: list[str] = [PAD_TOKEN, UNK_TOKEN] + [w for w in words if w not in (PAD_TOKEN, UNK_TOKEN)]
        self.stoi: dict[str, int] = {w: i for i, w in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError("vocabulary words must be unique")

    @classmethod
    def in_first_appearance_order(cls, texts: Iterable[str], tokenizer: str = "mcan") -> "Vocabulary":
        """PAD, UNK, then every token in the order it first appears (MCAN's question vocabulary)."""
        split = TOKENIZERS[tokenizer]
        return cls(dict.fromkeys(token for text in texts for token in split(text)), tokenizer)

    @classmethod
    def build(cls, texts: Iterable[str], min_count: int = 1) -> "Vocabulary":
        """Vocabulary of every token seen at least `min_count` times, most frequent first (ties by word)."""
        counts = Counter(token for text in texts for token in tokenize(text))
        words = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
        return cls(words)

    def __len__(self) -> int:
        return len(self.itos)

    @property
    def pad_index(self) -> int:
        return 0

    @property
    def unk_index(self) -> int:
        return 1

    def unknown_words(self, text: str) -> list[str]:
        """Tokens of `text` that are not in the vocabulary."""
        return [t for t in self.tokenize(text) if t not in self.stoi]

    def encode(self, text: str, max_len: Optional[int]) -> list[int]:
        """Token indices of `text`, unknown words as UNK, truncated to `max_len` (None: every token)."""
        return [self.stoi.get(t, self.unk_index) for t in self.tokenize(text)][:max_len]

    def encode_batch(self, texts: list[str], max_len: Optional[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Padded indices (N, T) int64 and lengths (N,) int64, T = `max_len`, or with None the longest
        question (no truncation, as pytorch-vqa pads); an empty question is an error."""
        encoded = [self.encode(text, max_len) for text in texts]
        width = max_len if max_len is not None else max(map(len, encoded), default=0)
        tokens = torch.zeros(len(texts), width, dtype=torch.long)
        lengths = torch.zeros(len(texts), dtype=torch.long)
        for row, (text, ids) in enumerate(zip(texts, encoded)):
            if not ids:
                raise VlkitError(f"question {text!r} has no words")
            tokens[row, : len(ids)] = torch.tensor(ids)
            lengths[row] = len(ids)
        return tokens, lengths

    def save(self, path: Path) -> None:
        write_text_atomic(path, json.dumps({"tokenizer": self.tokenizer, "words": self.itos[2:]}, indent=0))

    @classmethod
    def load(cls, path: Path) -> "Vocabulary":
        if not path.is_file():
            raise VlkitError(f"vocabulary file not found: {path}")
        data = json.loads(path.read_text())
        return cls(data["words"], data["tokenizer"])
