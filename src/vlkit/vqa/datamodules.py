"""The data module of a config's `data.dataset`: easy_vqa (images, end to end) or vqa (official files + features)."""

from __future__ import annotations

from typing import Optional, Protocol

import torch
from omegaconf import DictConfig
from torch.utils.data import DataLoader

from vlkit.errors import VlkitError
from vlkit.text import Vocabulary

DATASETS = ("easy_vqa", "vqa")
IMAGE_DATASETS = ("easy_vqa",)  # batches hold images (U, 3, H, W), not feature rows


class VQADataModule(Protocol):
    """What training, evaluation and export need of a VQA data module (both kinds implement it)."""

    vocab: Optional[Vocabulary]
    answers: Optional[list[str]]
    test_split_name: str

    def setup(self, stage: Optional[str] = None) -> None: ...

    def split(self, name: str): ...

    def loader(self, name: str, training: bool = False) -> DataLoader: ...

    def has_answers(self, name: str) -> bool: ...

    def score(self, name: str, predicted: torch.Tensor) -> dict: ...

    def prediction_rows(self, name: str, predicted: torch.Tensor) -> list[dict]: ...


def build_datamodule(data_config: DictConfig, seed: int, vocab: Optional[Vocabulary] = None,
                     answers: Optional[list[str]] = None) -> VQADataModule:
    """EasyVQADataModule or VQAFeaturesDataModule; `vocab`/`answers` are a trained run's (None: built from train)."""
    if data_config.dataset == "easy_vqa":
        from vlkit.vqa.data import EasyVQADataModule

        return EasyVQADataModule(data_config, seed, vocab, answers)
    if data_config.dataset == "vqa":
        from vlkit.vqa.vqa_data import VQAFeaturesDataModule

        return VQAFeaturesDataModule(data_config, seed, vocab, answers)
    raise VlkitError(f"unknown data.dataset {data_config.dataset!r}; choose one of {', '.join(DATASETS)}")
