"""What every captioning model offers: an image encoder and a decoder that runs one word at a time.

Training (teacher forcing), batched beam search and greedy decoding (`vlkit.caption.decoding`) use a
model only through these methods, so a new model is one file that implements them:

    encoded = model.encode(images)                     # (B, P, D); or model.encode(features) (B, P, D)
    context, state = model.start(encoded)              # per-image constants, recurrent state
    logits, state, attention = model.step(context, state, words)   # (B, V), ..., (B, P) or None

`context` holds what every step reads and no step changes (the encoder output, its projection for
attention: computed once per batch); `state` holds what each step changes (LSTM h and c). Both
are dicts of batch-first tensors, so decoding can reorder rows with `select_rows`. A beam search
keeps one context row per image and k state rows per image (the image's beams, adjacent): `step`
takes B context rows with B x k state rows (`beams_per_image` gives k; 1 in training), so that
an image's encoder output is read once per step for all of its beams, never copied k times.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Optional

import torch
from torch import nn

TensorDict = dict[str, torch.Tensor]


def beams_per_image(context_rows: int, state_rows: int) -> int:
    """k: how many state rows (beams) each context row (image) has; state row r belongs to image r // k."""
    if context_rows == 0 or state_rows % context_rows:
        raise ValueError(f"{state_rows} state rows do not divide into {context_rows} images")
    return state_rows // context_rows


def select_rows(tensors: TensorDict, rows: torch.Tensor) -> TensorDict:
    """Every tensor of `tensors` at `rows` (R,) of its first dimension: (B, ...) -> (R, ...)."""
    return {key: value.index_select(0, rows) for key, value in tensors.items()}


class CaptionModel(nn.Module, ABC):
    """An encoder (`self.encoder`, an `ImageEncoder`) and a word-by-word decoder over `vocab_size` words.

    `attends` is False for a model whose steps return no attention (show_tell).
    """

    vocab_size: int
    attends: bool = True

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 images (B, 3, S, S) -> encoder output (B, P, D): P regions (a grid of G x G) of D channels. Given
        stored features (B, P, D) of a frozen encoder instead (3 dimensions), the CNN is skipped: they are its
        output (`ImageEncoder.from_features`)."""
        if images.dim() == 3:
            return self.encoder.from_features(images)
        return self.encoder(images)

    @abstractmethod
    def start(self, encoded: torch.Tensor) -> tuple[TensorDict, TensorDict]:
        """Encoder output (B, P, D) -> (context, state) of the first step; every tensor (B, ...)."""

    @abstractmethod
    def step(self, context: TensorDict, state: TensorDict, words: torch.Tensor
             ) -> tuple[torch.Tensor, TensorDict, Optional[torch.Tensor]]:
        """Read `words` (B k,) (the previous word; `<start>` first) -> next-word logits (B k, V), the new state, and
        the attention weights over the P regions (B k, P) (None for a model without attention). The context has
        B rows and the state and words B x k rows, k >= 1 beams per image (see the module docstring)."""

    def forward(self, images: torch.Tensor, captions: torch.Tensor, lengths: torch.Tensor) -> TensorDict:
        """Teacher forcing. images (B, 3, S, S) uint8, captions (B, T) `<start> w... <end> <pad>...`, lengths (B,)
        (words + 2) -> "logits" (B, L, V) predicting captions[:, 1:L + 1] with L = max(lengths) - 1, and, for a
        model that attends, "attention" (B, L, P). Steps past a caption's end are computed and must be masked by
        the caller (`lengths - 1` valid steps per caption)."""
        context, state = self.start(self.encode(images))
        steps = int(lengths.max()) - 1
        logits, attention = [], []
        for t in range(steps):
            step_logits, state, step_attention = self.step(context, state, captions[:, t])
            logits.append(step_logits)
            if step_attention is not None:
                attention.append(step_attention)
        outputs = {"logits": torch.stack(logits, dim=1)}
        if attention:
            outputs["attention"] = torch.stack(attention, dim=1)
        return outputs
