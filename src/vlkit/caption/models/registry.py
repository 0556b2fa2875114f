"""The registry of captioning models: `model.name` -> builder(options, vocab_size, encoder, pretrained), options.

Importing `vlkit.caption.models` imports every model file, so every model is registered before a lookup.
"""

from __future__ import annotations

from typing import Callable

from torch import nn

from vlkit.core.registry import ModelEntry, Registry

MODELS: Registry[ModelEntry] = Registry("captioning model")

IMAGE_INPUTS = ("images", "captions", "lengths")  # uint8 images (B, 3, S, S), encoded captions (B, T), lengths (B,)


def register_model(name: str, options: type) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Register `builder(options, vocab_size, encoder, pretrained) -> CaptionModel` under `name`.

    `encoder` is the task's `encoder` config section (`vlkit.caption.models.encoders.EncoderConfig`);
    `pretrained` is True when the encoder must start from its pretrained weights (a fresh run), False
    when a checkpoint will overwrite every weight (then no weight file is read).
    """

    def decorate(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        MODELS.add(ModelEntry(name, builder, options, IMAGE_INPUTS))
        return builder

    return decorate
