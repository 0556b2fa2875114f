"""GloVe word vectors from the user's own `glove.840B.300d.txt` (or a 6B file), cached for fast reuse.

The text file (5.6 GB for 840B) is parsed once, with a progress bar, into `<cache>/<stem>.npy`
(float32, (N, D)) plus `<stem>.words.txt` and `<stem>.json` (source size and mtime, so a changed
file is converted again). Later loads memory-map the array: seconds instead of minutes. Lines are
`token v1 ... vD`; in 840B some tokens contain spaces, so the token is everything before the last D
fields. Lines that do not parse are skipped and counted.

Initialisation of an embedding matrix for a vocabulary (`embedding_matrix`), by one of two rules:
- `mcan`, as mcan-vqa does it (through spaCy's `en_vectors_web_lg`, which holds GloVe 840B): the
  PAD and UNK rows are GloVe's vectors of the strings "PAD" and "UNK" (zeros where GloVe lacks
  them); every word found in GloVe takes its vector; missing words are zeros. spaCy splits a few
  strings into several tokens and averages their vectors; vlkit looks every word up whole.
- `vlkit`: PAD is zeros; every other word found in GloVe takes its vector; words missing from
  GloVe (UNK included) are drawn from N(0, s^2), s = the standard deviation of all GloVe values,
  with a generator seeded by the word (so the same word always gets the same vector).
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from vlkit.core.cache import cache_dir as vlkit_cache_dir
from vlkit.core.errors import VlkitError
from vlkit.core.files import replacing, write_text_atomic
from vlkit.text.vocabulary import Vocabulary


GLOVE_ROWS = ("mcan", "vlkit")
GLOVE_REQUIRED, GLOVE_NONE = "required", "none"  # recipe values of model.glove besides a file path
MCAN_PAD, MCAN_UNK = "PAD", "UNK"  # the strings whose vectors mcan-vqa gives its PAD and UNK rows


@dataclass
class GloVe:
    """Words, their vectors (N, D) float32 (memory-mapped) and word -> row."""

    words: list[str]
    vectors: np.ndarray
    index: dict[str, int]
    skipped_lines: int = 0


def load_glove(text_file: str | Path, cache_dir: Optional[str | Path] = None) -> GloVe:
    """GloVe vectors of `text_file`, converting it into the cache on first use."""
    source = Path(text_file)
    if not source.is_file():
        raise VlkitError(f"GloVe file not found: {source} (download glove.840B.300d.txt or glove.6B.300d.txt "
                         "and pass its path; vlkit never downloads at run time)")
    cache = Path(cache_dir) if cache_dir else vlkit_cache_dir("glove")
    stem = cache / source.name.removesuffix(".txt")
    meta_path = _cache_file(stem, ".json")
    stat = source.stat()
    fingerprint = {"source": str(source.resolve()), "size": stat.st_size, "mtime": int(stat.st_mtime)}
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else None
    if meta is None or {k: meta.get(k) for k in fingerprint} != fingerprint:
        meta = {**fingerprint, **_convert(source, stem)}
        write_text_atomic(meta_path, json.dumps(meta))
    words = _cache_file(stem, ".words.txt").read_text(encoding="utf-8").split("\n")
    vectors = np.load(_cache_file(stem, ".npy"), mmap_mode="r")
    return GloVe(words, vectors, {w: i for i, w in enumerate(words)}, meta["skipped_lines"])


def _cache_file(stem: Path, suffix: str) -> Path:
    """`<cache>/glove.6B.300d` + suffix: the whole file stem is kept, so 6B.100d and 6B.300d do not collide."""
    return stem.with_name(stem.name + suffix)


def _convert(source: Path, stem: Path) -> dict:
    """Parse the text file; write the array and word list atomically; return {dim, count, skipped_lines}."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    words: list[str] = []
    rows: list[np.ndarray] = []
    dim: Optional[int] = None
    skipped = 0
    with open(source, "rb") as handle, tqdm(total=source.stat().st_size, unit="B", unit_scale=True,
                                             desc=f"converting {source.name}") as progress:
        for raw in handle:
            progress.update(len(raw))
            parts = raw.decode("utf-8", errors="replace").rstrip("\n").rstrip(" ").split(" ")
            if dim is None:
                dim = len(parts) - 1
            if len(parts) <= dim or "\n" in parts[0]:
                skipped += 1
                continue
            try:
                vector = np.asarray(parts[-dim:], dtype=np.float32)
            except ValueError:
                skipped += 1
                continue
            words.append(" ".join(parts[:-dim]))
            rows.append(vector)
    if not rows:
        raise VlkitError(f"{source} holds no 'word v1 ... vD' lines: is it a GloVe text file?")
    array = np.stack(rows)
    with replacing(_cache_file(stem, ".npy")) as temporary:
        np.save(temporary, array)
    write_text_atomic(_cache_file(stem, ".words.txt"), "\n".join(words))
    return {"dim": int(array.shape[1]), "count": len(words), "skipped_lines": skipped}


def embedding_matrix(vocab: Vocabulary, glove: GloVe, rows: str = "vlkit") -> tuple[np.ndarray, list[str]]:
    """(V, D) float32 initial embeddings for `vocab` by the `rows` rule (`mcan` or `vlkit`, see the module
    docstring) and the words that GloVe lacks."""
    if rows not in GLOVE_ROWS:
        raise ValueError(f"unknown GloVe rows rule {rows!r}; choose one of {GLOVE_ROWS}")
    matrix = np.zeros((len(vocab), glove.vectors.shape[1]), dtype=np.float32)
    lookup = list(vocab.itos)
    if rows == "mcan":
        lookup[vocab.pad_index], lookup[vocab.unk_index] = MCAN_PAD, MCAN_UNK
    else:
        scale = float(np.asarray(glove.vectors[: min(len(glove.words), 200_000)]).std())
    missing = []
    for row, word in enumerate(lookup):
        if rows == "vlkit" and row == vocab.pad_index:
            continue
        if word in glove.index:
            matrix[row] = glove.vectors[glove.index[word]]
        else:
            missing.append(word)
            if rows == "vlkit":
                matrix[row] = np.random.default_rng(zlib.crc32(word.encode("utf-8"))).normal(0.0, scale,
                                                                                             matrix.shape[1])
    return matrix, missing


def initialise_embedding(model: nn.Module, vocab: Vocabulary, glove_file: str | Path, rows: str = "vlkit"
                         ) -> list[str]:
    """Copy `embedding_matrix(vocab, GloVe, rows)` into the model's word embedding; returns the missing words."""
    embeddings = [m for m in model.modules() if isinstance(m, nn.Embedding) and m.num_embeddings == len(vocab)]
    if len(embeddings) != 1:
        raise VlkitError(f"model.glove={glove_file} asks for GloVe word embeddings, but {type(model).__name__} has "
                         f"{len(embeddings)} nn.Embedding of the {len(vocab)} question words, where one is needed "
                         f"to put them in; drop model.glove for this model")
    matrix, missing = embedding_matrix(vocab, load_glove(glove_file), rows)
    if matrix.shape[1] != embeddings[0].embedding_dim:
        raise VlkitError(f"{glove_file} has {matrix.shape[1]}-d vectors but the model embeds words in "
                         f"{embeddings[0].embedding_dim} dimensions (model.embed_dim)")
    with torch.no_grad():
        embeddings[0].weight.copy_(torch.from_numpy(matrix))
    return missing


def glove_file(model_options: object) -> Optional[str]:
    """The GloVe text file a model section's `glove` names, None when there is none (or the recipe's markers)."""
    glove = getattr(model_options, "glove", None)
    return None if glove in (None, GLOVE_REQUIRED, GLOVE_NONE) else glove


def glove_departures(model_options: object, model_name: str) -> list[str]:
    """A recipe whose reference starts from GloVe says `model.glove: required`: training needs the file (an error
    says so), or `model.glove=none`, which is returned as the run's departure from its reference."""
    glove = getattr(model_options, "glove", None)
    if glove == GLOVE_REQUIRED:
        raise VlkitError(f"this recipe starts the word embeddings from GloVe, as {model_name}'s reference does: pass "
                         "model.glove=PATH/glove.840B.300d.txt (or model.glove=none to train without it; the run "
                         "records that departure)")
    if glove == GLOVE_NONE:
        return ["model.glove=none: the word embeddings start random, not from GloVe as the reference's do"]
    return []
