"""The registry of VQA models: `model.name` -> builder(options, vocab_size, num_answers), options, inputs, loss.

Importing `vlkit.vqa.models` imports every model file, so every model is registered before a lookup.
"""

from __future__ import annotations

from typing import Callable, Optional

from torch import nn

from vlkit.core.registry import ModelEntry, Registry

MODELS: Registry[ModelEntry] = Registry("VQA model")

FEATURE_INPUTS = ("features", "feature_mask", "tokens", "lengths")  # precomputed image features (B, K, D)
IMAGE_INPUTS = ("images", "image_index", "tokens", "lengths")  # each distinct image of the batch once


def register_model(name: str, options: type, inputs: tuple[str, ...] = FEATURE_INPUTS, loss: Optional[str] = None
                   ) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Register `builder(options, vocab_size, num_answers) -> nn.Module` under `name`.

    `loss` (for soft targets): None is MCAN's binary cross-entropy, "soft_cross_entropy" is
    pytorch-vqa's; a dataset with one answer per question always trains with cross-entropy.
    """

    def decorate(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        MODELS.add(ModelEntry(name, builder, options, inputs, loss))
        return builder

    return decorate
