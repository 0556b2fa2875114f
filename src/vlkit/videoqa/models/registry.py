"""The registry of video QA models: `model.name` -> builder(options, vocab_size, num_answers), options.

Importing `vlkit.videoqa.models` imports every model file, so every model is registered before a lookup.
"""

from __future__ import annotations

from typing import Callable

from torch import nn

from vlkit.core.registry import ModelEntry, Registry

MODELS: Registry[ModelEntry] = Registry("video QA model")

# appearance (B, C, F, Da) float: F frame features per clip; motion (B, C, Dm) float: one vector per clip;
# questions (B, L) int64 word indices, 0 = padding; question_lengths (B,) int64 >= 1
CLIP_INPUTS = ("appearance", "motion", "questions", "question_lengths")
QUESTION_INPUTS = ("questions", "question_lengths")  # a baseline that never sees the video


def register_model(name: str, options: type, loss: str | None = None, inputs: tuple[str, ...] = CLIP_INPUTS
                   ) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Register `builder(options, vocab_size, num_answers) -> nn.Module` under `name`.

    The module's forward takes a batch dict with the `inputs` keys and returns {"logits": (B, A), ...}.
    """

    def decorate(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        MODELS.add(ModelEntry(name, builder, options, inputs, loss))
        return builder

    return decorate
