"""What both VQA data modules share: question options, vocabularies, split caching and grouped loaders."""

from __future__ import annotations

import logging
from abc import abstractmethod
from dataclasses import dataclass
from typing import Any, Optional

import lightning.pytorch as pl
from lightning.pytorch.utilities import rank_zero_only
import numpy as np
import torch
from torch.utils.data import DataLoader

from vlkit.core.errors import VlkitError
from vlkit.core.sampling import LoaderOptions, PositionDataset, grouped_loader
from vlkit.core.validation import check_positive_int
from vlkit.text.vocabulary import Vocabulary
from vlkit.vqa.data.vocabularies import VQAVocabularies

log = logging.getLogger("vlkit")


@dataclass
class QuestionOptions(LoaderOptions):
    """Loader settings plus question length and subsets, common to every VQA data section."""

    max_question_len: Optional[int] = 16  # words a model reads; null: every word (padded to the longest)
    train_subset: Optional[int] = None  # keep only the first N train questions (smoke tests)
    eval_subset: Optional[int] = None  # keep only the first N validation/test questions

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive_int(self, "max_question_len", optional=True)
        check_positive_int(self, "train_subset", "eval_subset", optional=True)


@rank_zero_only
def report_long_questions(split: str, questions: list[str], vocab: Vocabulary, max_len: Optional[int]) -> None:
    """Log how many questions have more words than the model reads (data.max_question_len): they are cut."""
    if max_len is None:
        return
    lengths = [len(vocab.tokenize(question)) for question in questions]
    longer = sum(length > max_len for length in lengths)
    if longer:
        log.warning("%s: %d of %d question(s) have more than data.max_question_len=%d words (the longest %d); "
                    "the model reads only their first %d", split, longer, len(lengths), max_len, max(lengths), max_len)


class QuestionsDataModule(pl.LightningDataModule):
    """A VQA data module: encoded splits by name, batches of questions grouped by image.

    Subclasses read and encode splits (`split`), say which of them carry answers (`has_answers`),
    score predicted answer indices (`score`), lay predictions out (`prediction_rows`) and give the
    dataset + image group of each question of a split (`batches_of`).
    """

    test_split_name = "test"

    def __init__(self, options: QuestionOptions, seed: int, vocabularies: Optional[VQAVocabularies] = None):
        """`vocabularies`: a trained run's; None builds them from the training split in `setup`."""
        super().__init__()
        self.config = options
        self.seed = seed
        self.vocab: Optional[Vocabulary] = vocabularies.questions if vocabularies else None
        self.answers: Optional[list[str]] = vocabularies.answers if vocabularies else None
        self.splits: dict[str, Any] = {}
        self.check_report: Optional[dict] = None

    @property
    def vocabularies(self) -> VQAVocabularies:
        """The question vocabulary and answer list (built in `setup` when not given)."""
        return VQAVocabularies(self.vocab, self.answers)

    @abstractmethod
    def split(self, name: str) -> Any:
        """The encoded split `name` (train, val or a test split), read on first use."""

    @abstractmethod
    def batches_of(self, name: str) -> tuple[PositionDataset, np.ndarray]:
        """The dataset whose `collate` makes the batches of split `name`, and each question's image (N,)."""

    @abstractmethod
    def has_answers(self, name: str) -> bool:
        """Whether split `name` has ground-truth answers to score against."""

    @abstractmethod
    def score(self, name: str, predicted: torch.Tensor) -> dict:
        """Accuracy report {"overall", "perAnswerType", ...} of predicted answer indices (N,)."""

    @abstractmethod
    def prediction_rows(self, name: str, predicted: torch.Tensor) -> list[dict]:
        """One JSON-ready row per question of split `name`, in split order."""

    def split_size(self, name: str) -> int:
        return len(self.split(name))

    def loader(self, name: str, training: bool = False) -> DataLoader:
        """DataLoader over a split: shuffled batches grouped by image when training, fixed order otherwise."""
        dataset, groups = self.batches_of(name)
        return grouped_loader(dataset, groups, self.config, self.seed, training)

    def train_dataloader(self) -> DataLoader:
        return self.loader("train", training=True)

    def val_dataloader(self) -> DataLoader:
        return self.loader("val")

    def require_one_batch(self, train_questions: int) -> None:
        """A training split smaller than one batch trains nothing (every batch is dropped): say so."""
        if train_questions < self.config.batch_size:
            raise VlkitError(f"{train_questions} training questions are fewer than one batch "
                             f"(data.batch_size={self.config.batch_size})")
