"""The caption word map: word -> index, saved as the tutorial's `WORDMAP_<base>.json`.

Layout (that of sgrvinod/a-PyTorch-Tutorial-to-Image-Captioning, `utils.py` create_input_files):
the kept words get 1..n, then `<unk>` = n+1, `<start>` = n+2, `<end>` = n+3, and `<pad>` = 0. The
JSON file is that one object, so the tutorial's files load here and vlkit's load in the tutorial.

Which words are kept, by `word_counting`:
- `train` (vlkit's default): tokens of every caption of the training images (train, plus restval
  when it joins train); a word is kept when it occurs at least `min_word_freq` times; words are
  ordered most frequent first, ties alphabetically. Validation and test captions never shape the
  vocabulary.
- `tutorial`: the tutorial's counting, read in its `create_input_files`: `word_freq.update(c['tokens'])`
  runs for every sentence of every image of the file (train, restval, val and test), before the
  `len(c['tokens']) <= max_len` filter, so long captions and images left with no caption count too;
  a word is kept when it occurs MORE than `min_word_freq` times (`word_freq[w] > min_word_freq`),
  in the order words first appear in the file (the Counter's key order).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

from vlkit.caption.data.karpathy import KarpathyDataset
from vlkit.core.errors import VlkitError
from vlkit.core.files import write_text_atomic

PAD, UNK, START, END = "<pad>", "<unk>", "<start>", "<end>"
WORD_COUNTING = ("train", "tutorial")


class WordMap:
    """Word <-> index with `<pad>` = 0 and `<unk>`, `<start>`, `<end>` after the words."""

    def __init__(self, mapping: dict[str, int]):
        specials = [token for token in (PAD, UNK, START, END) if token not in mapping]
        if specials:
            raise ValueError(f"a word map needs {specials}")
        if mapping[PAD] != 0:
            raise ValueError(f"{PAD} must be index 0, not {mapping[PAD]}")
        if sorted(mapping.values()) != list(range(len(mapping))):
            raise ValueError("word map indices must be 0..V-1, each once")
        self.stoi = dict(mapping)
        self.itos = sorted(mapping, key=mapping.__getitem__)

    @classmethod
    def from_words(cls, words: Iterable[str]) -> "WordMap":
        """Words (other than the special tokens) at 1..n in the given order, then `<unk>`, `<start>`, `<end>`; `<pad>` = 0."""
        kept = [word for word in words if word not in (PAD, UNK, START, END)]
        mapping = {word: index for index, word in enumerate(kept, start=1)}
        for token in (UNK, START, END):
            mapping[token] = len(mapping) + 1
        mapping[PAD] = 0
        return cls(mapping)

    def __len__(self) -> int:
        return len(self.itos)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WordMap) and self.stoi == other.stoi

    @property
    def pad(self) -> int:
        return self.stoi[PAD]

    @property
    def unk(self) -> int:
        return self.stoi[UNK]

    @property
    def start(self) -> int:
        return self.stoi[START]

    @property
    def end(self) -> int:
        return self.stoi[END]

    def indices(self, tokens: Sequence[str]) -> list[int]:
        """Index of every token, unknown words as `<unk>`."""
        return [self.stoi.get(token, self.unk) for token in tokens]

    def words(self, indices: Iterable[int]) -> list[str]:
        """The words of an encoded caption: `<start>` and `<pad>` left out, stopping at `<end>`."""
        words = []
        for index in indices:
            if index == self.end:
                break
            if index not in (self.start, self.pad):
                words.append(self.itos[index])
        return words

    def save(self, path: str | Path) -> None:
        """Write the tutorial's WORDMAP JSON (one word -> index object), atomically."""
        write_text_atomic(path, json.dumps(self.stoi))

    @classmethod
    def load(cls, path: str | Path) -> "WordMap":
        """Read a WORDMAP JSON written by vlkit or by the tutorial."""
        path = Path(path)
        if not path.is_file():
            raise VlkitError(f"word map file not found: {path}")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as error:
            raise VlkitError(f"word map {path} is not valid JSON: {error}") from error
        if not isinstance(data, dict) or not all(isinstance(v, int) for v in data.values()):
            raise VlkitError(f"{path} is not a word map: expected one JSON object of word -> index")
        try:
            return cls(data)
        except ValueError as error:
            raise VlkitError(f"{path} is not a word map: {error}") from error


def count_words(dataset: KarpathyDataset, word_counting: str = "train", restval: str = "train") -> Counter:
    """Token counts by the `word_counting` rule (see the module docstring); insertion order = first appearance."""
    if word_counting not in WORD_COUNTING:
        raise VlkitError(f"word_counting must be one of {', '.join(WORD_COUNTING)}, got {word_counting!r}")
    images = dataset.images if word_counting == "tutorial" else dataset.split("train", restval)
    counts: Counter = Counter()
    for image in images:
        for tokens in image.tokens:
            counts.update(tokens)
    return counts


def build_word_map(dataset: KarpathyDataset, min_word_freq: int, word_counting: str = "train",
                   restval: str = "train") -> WordMap:
    """The word map of a Karpathy dataset by the `word_counting` rule (see the module docstring)."""
    if min_word_freq < 0:
        raise VlkitError(f"min_word_freq must be 0 or more, got {min_word_freq}")
    counts = count_words(dataset, word_counting, restval)
    if word_counting == "tutorial":
        words = [word for word, count in counts.items() if count > min_word_freq]
    else:
        words = sorted((word for word, count in counts.items() if count >= min_word_freq),
                       key=lambda word: (-counts[word], word))
    return WordMap.from_words(words)
