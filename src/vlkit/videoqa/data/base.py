"""What every video QA data module shares: MSVD-QA-layout annotations, vocabularies, encoded splits, scoring.

A data module reads `<annotations>/{train,val,test}_qa.json` (`vlkit.videoqa.data.annotations`), builds the
question vocabulary and the answer classes from the training split as HCRN does (every train word in order of
first appearance, PAD 0 and UNK 1; answer classes by `vlkit.videoqa.data.answer_vocabulary`; HCRN drops each
question's last character as its "?" before nltk's tokenizer, vlkit's `words` tokenizer drops punctuation
instead, which gives the same words on these questions and keeps the last word of questions without "?"), and gets each video's tensors from a `VideoSource` (clip features
from the feature store, or decoded frames). Questions whose video the source lacks are left out with a
warning, before training starts.

A batch is a dict:
    questions         (B, L) int64   question word indices, 0 = padding
    question_lengths  (B,) int64
    answers           (B,) int64     answer class (0: a train answer outside the classes, 1: a val/test one)
    index             (B,) int64     position of the question in its split
    counted           (B,) bool      False for the padding questions of an evaluation shard
plus the source's video tensors (`VideoSource.read`).
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Protocol

import lightning.pytorch as pl
from lightning.pytorch.utilities import rank_zero_only
import numpy as np
import torch
from torch.utils.data import DataLoader

from vlkit.core.errors import VlkitError
from vlkit.core.sampling import LoaderOptions, PositionDataset, grouped_loader, unpack_positions
from vlkit.core.validation import check_positive_int
from vlkit.text.vocabulary import Vocabulary
from vlkit.videoqa.data.annotations import QARecord, question_type, read_qa_split
from vlkit.videoqa.data.answer_vocabulary import AnswerVocabulary
from vlkit.videoqa.metrics import score_indices
from vlkit.videoqa.run_files import VideoQAVocabularies

log = logging.getLogger("vlkit")

QUESTION_KEYS = ("questions", "question_lengths", "answers", "index", "counted")


@dataclass
class VideoQAOptions(LoaderOptions):
    """Loader settings, answer classes and subsets, common to every video QA data section."""

    answer_top: int = 4000  # the most frequent train answers that become classes (HCRN's answer_top)
    max_question_len: Optional[int] = None  # words a model reads; null: every word (padded to the longest)
    train_subset: Optional[int] = None  # keep only the first N train questions (smoke tests)
    eval_subset: Optional[int] = None  # keep only the first N validation/test questions

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive_int(self, "answer_top")
        check_positive_int(self, "max_question_len", "train_subset", "eval_subset", optional=True)


class VideoSource(Protocol):
    """The video tensors of a batch's distinct videos."""

    per_question: bool  # True: `read` rows are repeated per question; False: kept per video + "video_index"

    def has(self, video_ids: np.ndarray) -> np.ndarray:
        """(N,) bool: whether each video can be read."""

    def read(self, video_ids: np.ndarray) -> dict[str, torch.Tensor]:
        """Tensors (U, ...) of the distinct `video_ids` (U,), in their order."""


@dataclass
class EncodedVideoQuestions:
    """One split, encoded; every array has one row per question, in split order."""

    records: list[QARecord]
    video_ids: np.ndarray  # (N,) int64
    tokens: torch.Tensor  # (N, L) int64
    lengths: torch.Tensor  # (N,) int64
    answers: torch.Tensor  # (N,) int64 answer classes
    types: list[str]  # question type (first word) of each question

    def __len__(self) -> int:
        return len(self.records)


class VideoQuestions(PositionDataset):
    """Indexable view of one encoded split; `collate` reads each distinct video of a batch once."""

    def __init__(self, data: EncodedVideoQuestions, source: VideoSource):
        self.data, self.source = data, source

    def collate(self, positions: list[int]) -> dict[str, torch.Tensor]:
        """Batch dict of the questions at `positions` (see the module docstring)."""
        index, counted = unpack_positions(positions)
        video_ids, inverse = np.unique(self.data.video_ids[index.numpy()], return_inverse=True)
        videos = self.source.read(video_ids)
        inverse = torch.from_numpy(inverse.reshape(-1))
        if self.source.per_question:
            videos = {key: value[inverse] for key, value in videos.items()}
        else:
            videos["video_index"] = inverse
        return {
            **videos,
            "questions": self.data.tokens[index],
            "question_lengths": self.data.lengths[index],
            "answers": self.data.answers[index],
            "index": index,
            "counted": counted,
        }


@rank_zero_only
def _warn(message: str, *args: object) -> None:
    """Log once per run, not once per DDP process."""
    log.warning(message, *args)


class VideoQADataModule(pl.LightningDataModule):
    """Questions of `annotations_dir()` over the videos of `video_source()`; train, val and test splits."""

    test_split_name = "test"

    def __init__(self, options: VideoQAOptions, seed: int, vocabularies: Optional[VideoQAVocabularies] = None):
        """`vocabularies`: a trained run's; None builds them from the training split in `setup`."""
        super().__init__()
        self.config = options
        self.seed = seed
        self.vocab: Optional[Vocabulary] = vocabularies.questions if vocabularies else None
        self.answer_classes: Optional[AnswerVocabulary] = vocabularies.answers if vocabularies else None
        self.splits: dict[str, EncodedVideoQuestions] = {}
        self.check_report: Optional[dict] = None

    @abstractmethod
    def annotations_dir(self) -> Path:
        """The folder holding `{train,val,test}_qa.json`."""

    @abstractmethod
    def video_source(self) -> VideoSource:
        """Where the videos of every split are read from."""

    @abstractmethod
    def video_input(self) -> dict:
        """What the model reads of a video (`vlkit.videoqa.run_files`: frames or features, clip shape)."""

    @property
    def vocabularies(self) -> VideoQAVocabularies:
        """The question vocabulary and answer classes (built in `setup` when not given) and the video input."""
        return VideoQAVocabularies(self.vocab, self.answer_classes, self.video_input())

    def setup(self, stage: Optional[str] = None) -> None:
        """Read train and val, build the vocabularies from train (unless given), encode both, check sizes."""
        if "train" in self.splits:
            return
        train = read_qa_split(self.annotations_dir(), "train")
        if self.answer_classes is None:
            self.answer_classes = AnswerVocabulary.build([r.answer for r in train], self.config.answer_top)
        if self.vocab is None:
            self.vocab = Vocabulary.in_first_appearance_order((r.question for r in train), "words")
        self.splits["train"] = self._encode("train", train, self.config.train_subset)
        if len(self.splits["train"]) < self.config.batch_size:
            raise VlkitError(f"{len(self.splits['train'])} training questions are fewer than one batch "
                             f"(data.batch_size={self.config.batch_size})")
        self.splits["val"] = self._encode("val", read_qa_split(self.annotations_dir(), "val"), self.config.eval_subset)
        self.check_report = self._check_report()

    def _check_report(self) -> dict:
        """Sizes and the answers outside the classes (always wrong) of train and val, kept as data_check.json."""
        report: dict = {"num_classes": len(self.answer_classes), "question_words": len(self.vocab)}
        for name in ("train", "val"):
            data = self.splits[name]
            unknown = int((data.answers <= 1).sum())
            report[name] = {"questions": len(data), "videos": int(len(np.unique(data.video_ids))),
                            "answers_outside_classes": unknown}
        return report

    def _encode(self, name: str, records: list[QARecord], limit: Optional[int]) -> EncodedVideoQuestions:
        """Encode the questions whose video the source has (the others are reported and left out)."""
        video_ids = np.array([r.video_id for r in records], dtype=np.int64)
        present = self.video_source().has(video_ids)
        if not present.all():
            missing = np.unique(video_ids[~present])
            _warn("%s: %d question(s) on %d video(s) without video data are left out (e.g. video ids %s)",
                  name, int((~present).sum()), len(missing), missing[:5].tolist())
        records = [r for r, kept in zip(records, present) if kept][:limit]
        if not records:
            raise VlkitError(f"no question of the {name} split has its video in {self.video_source_name()}")
        tokens, lengths = self.vocab.encode_batch([r.question for r in records], self.config.max_question_len)
        training = name == "train"
        answers = torch.as_tensor(np.asarray([self.answer_classes.encode(r.answer, training) for r in records]),
                                  dtype=torch.long)
        return EncodedVideoQuestions(records, np.array([r.video_id for r in records], dtype=np.int64), tokens,
                                     lengths, answers, [question_type(r.question) for r in records])

    def video_source_name(self) -> str:
        """How messages name where videos come from."""
        return type(self.video_source()).__name__

    def split(self, name: str) -> EncodedVideoQuestions:
        """train / val / test, encoded on first use; a trained run's evaluation reads only the split it asks for."""
        if name not in self.splits and (name == "train" or self.vocab is None or self.answer_classes is None):
            self.setup()
        if name not in self.splits:
            self.splits[name] = self._encode(name, read_qa_split(self.annotations_dir(), name), self.config.eval_subset)
        return self.splits[name]

    def split_size(self, name: str) -> int:
        return len(self.split(name))

    def has_answers(self, name: str) -> bool:
        return True

    def score(self, name: str, predicted: torch.Tensor) -> dict:
        """Accuracy and per-question-type accuracy (percentages) of predicted answer classes (N,)."""
        data = self.split(name)
        return score_indices(predicted.numpy(), data.answers.numpy(), data.types)

    def prediction_rows(self, name: str, predicted: torch.Tensor) -> list[dict]:
        """[{"id", "video_id", "question", "answer"}] for every question of the split (`vlkit videoqa score` reads
        id and answer)."""
        data = self.split(name)
        return [{"id": r.id, "video_id": r.video_id, "question": r.question, "answer": self.answer_classes.decode(i)}
                for r, i in zip(data.records, predicted.tolist())]

    def loader(self, name: str, training: bool = False) -> DataLoader:
        """Batches of a split: shuffled and grouped by video when training, in split order otherwise."""
        data = self.split(name)
        return grouped_loader(VideoQuestions(data, self.video_source()), data.video_ids, self.config, self.seed,
                              training)

    def train_dataloader(self) -> DataLoader:
        return self.loader("train", training=True)

    def val_dataloader(self) -> DataLoader:
        return self.loader("val")
