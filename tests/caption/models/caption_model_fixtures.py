"""Tiny captioning models and batches for the model tests: a small-CNN encoder, a few words, short captions."""

from __future__ import annotations

import torch

from vlkit.caption.models import MODELS
from vlkit.caption.models.base import CaptionModel
from vlkit.caption.models.encoders import EncoderConfig

VOCAB = 13
TINY_ENCODER = EncoderConfig(backbone="small_cnn", weights="none", small_cnn_channels=[8, 16])  # D = 16


def build(name: str, options: object, encoder: EncoderConfig = TINY_ENCODER, vocab_size: int = VOCAB,
          seed: int = 0) -> CaptionModel:
    """The registered captioning model `name`, built as the task builds it, in eval mode."""
    torch.manual_seed(seed)
    return MODELS.get(name).builder(options, vocab_size, encoder, True).eval()


def caption_batch(lengths: list[int], size: int = 32, vocab_size: int = VOCAB, seed: int = 0
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """uint8 images (B, 3, size, size), captions (B, max(lengths)) padded with 0 after each length, lengths (B,)."""
    g = torch.Generator().manual_seed(seed)
    lengths_tensor = torch.tensor(lengths)
    captions = torch.randint(1, vocab_size, (len(lengths), max(lengths)), generator=g)
    captions[torch.arange(max(lengths))[None, :] >= lengths_tensor[:, None]] = 0
    images = torch.randint(0, 256, (len(lengths), 3, size, size), generator=g, dtype=torch.uint8)
    return images, captions, lengths_tensor


def valid_steps(lengths: torch.Tensor) -> torch.Tensor:
    """(B, L) True at the decode steps of each caption (lengths - 1 of them), L = max(lengths) - 1."""
    return torch.arange(int(lengths.max()) - 1)[None, :] < (lengths - 1)[:, None]
