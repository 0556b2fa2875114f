"""Encoding each image's captions as the tutorial's training targets: a fixed count of fixed-width rows.

Rules, as sgrvinod/a-PyTorch-Tutorial-to-Image-Captioning `utils.py` create_input_files applies them:
- a caption is `<start> w1 ... wL <end>` then `<pad>` up to max_len + 2 indices; its length is L + 2;
- captions longer than `max_len` tokens are dropped (`long_captions="drop"`, the tutorial's rule) or
  cut to their first `max_len` tokens (`"truncate"`);
- with fewer captions than `captions_per_image`, all of them are kept in order and the rest are
  drawn with replacement (`random.choice` per missing caption); otherwise `random.sample` draws
  `captions_per_image` of them without replacement (so their order is shuffled too). The tutorial
  seeds Python's `random` once (`seed(123)`) and encodes TRAIN, VAL, then TEST in file order; one
  `random.Random(seed)` used in that order draws the same captions.
The tutorial silently leaves out an image whose captions are all longer than max_len; here that is
an error naming the image (raise max_len or truncate instead), so no image disappears unnoticed.
"""

from __future__ import annotations

import random
from typing import Sequence

import numpy as np

from vlkit.caption.data.karpathy import KarpathyImage
from vlkit.caption.data.word_map import WordMap
from vlkit.core.errors import VlkitError

LONG_CAPTIONS = ("drop", "truncate")


def fit_length(captions: Sequence[Sequence[str]], max_len: int, long_captions: str, image: str) -> list[list[str]]:
    """The captions (token lists) of one image that fit `max_len` tokens: long ones dropped or truncated."""
    if long_captions not in LONG_CAPTIONS:
        raise VlkitError(f"long_captions must be one of {', '.join(LONG_CAPTIONS)}, got {long_captions!r}")
    if long_captions == "truncate":
        return [list(tokens[:max_len]) for tokens in captions]
    kept = [list(tokens) for tokens in captions if len(tokens) <= max_len]
    if not kept:
        shortest = min(map(len, captions), default=0)
        raise VlkitError(f"image {image} has no caption of at most max_len={max_len} tokens (the shortest has "
                         f"{shortest}); raise max_len or use long_captions='truncate'")
    return kept


def choose_captions(captions: list[list[str]], count: int, rng: random.Random) -> list[list[str]]:
    """Exactly `count` captions: all then random repeats when there are fewer, else a random sample."""
    if len(captions) < count:
        return captions + [rng.choice(captions) for _ in range(count - len(captions))]
    return rng.sample(captions, k=count)


def encode_caption(tokens: Sequence[str], word_map: WordMap, max_len: int) -> tuple[list[int], int]:
    """(max_len + 2 indices `<start> words <end> <pad>...`, length L + 2) of one caption of L <= max_len tokens."""
    indices = [word_map.start, *word_map.indices(tokens), word_map.end]
    return indices + [word_map.pad] * (max_len + 2 - len(indices)), len(indices)


def encode_images(images: Sequence[KarpathyImage], word_map: WordMap, captions_per_image: int, max_len: int,
                  long_captions: str, rng: random.Random) -> tuple[np.ndarray, np.ndarray]:
    """Encoded captions of `images`, in order: tokens (N, C, max_len + 2) int64 and lengths (N, C) int64,
    C = `captions_per_image`."""
    if captions_per_image < 1:
        raise VlkitError(f"captions_per_image must be at least 1, got {captions_per_image}")
    if max_len < 1:
        raise VlkitError(f"max_len must be at least 1, got {max_len}")
    tokens = np.empty((len(images), captions_per_image, max_len + 2), dtype=np.int64)
    lengths = np.empty((len(images), captions_per_image), dtype=np.int64)
    for row, image in enumerate(images):
        label = f"{image.image_id} ({image.filename})"
        chosen = choose_captions(fit_length(image.tokens, max_len, long_captions, label), captions_per_image, rng)
        for column, caption in enumerate(chosen):
            encoded, length = encode_caption(caption, word_map, max_len)
            tokens[row, column] = encoded
            lengths[row, column] = length
    return tokens, lengths
