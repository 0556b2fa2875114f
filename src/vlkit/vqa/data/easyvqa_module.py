"""easy-VQA as a Lightning data module (`data.dataset: easy_vqa`): images end to end, validation held out by image.

A batch is a dict:
    images       (U, 3, H, W) uint8  each distinct image of the batch once
    image_index  (B,) int64          row in `images` of each question's image
    tokens       (B, T) int64        padded question word indices
    lengths      (B,) int64
    answers      (B,) int64          ground-truth answer index
    answer_types (B,) int64          index into ANSWER_TYPES
    index        (B,) int64          position of the question in its split
    counted      (B,) bool           False for the padding questions of an evaluation shard
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from tqdm.auto import tqdm

from vlkit.core.errors import VlkitError
from vlkit.core.sampling import PositionDataset, unpack_positions
from vlkit.core.validation import check_fraction, check_positive_int
from vlkit.text.vocabulary import Vocabulary
from vlkit.vision.images import load_rgb
from vlkit.vqa.data import easyvqa_files
from vlkit.vqa.data.base import QuestionOptions, QuestionsDataModule, report_long_questions
from vlkit.vqa.data.registry import register_dataset
from vlkit.vqa.data.vocabularies import VQAVocabularies
from vlkit.vqa.metrics.single_answer import count_correct, single_answer_report

PROVIDES = ("images", "image_index", "tokens", "lengths", "answers", "answer_types", "index", "counted")


@dataclass
class EasyVQAData(QuestionOptions):
    """The data section of `data.dataset: easy_vqa`."""

    root: Optional[str] = None  # None: the files shipped in the `easy-vqa` package
    val_fraction: float = 0.1  # share of *train images* held out for validation
    split_seed: int = 0
    image_size: int = 64  # images are resized to image_size x image_size

    def __post_init__(self) -> None:
        super().__post_init__()
        check_fraction(self, "val_fraction")
        check_positive_int(self, "image_size")


@dataclass
class QuestionSet:
    """Encoded questions of one split over a shared image tensor."""

    images: torch.Tensor  # (M, 3, H, W) uint8
    image_ids: list[int]  # (M,) dataset image id of each image row
    image_row: torch.Tensor  # (N,) int64
    tokens: torch.Tensor  # (N, T) int64
    lengths: torch.Tensor  # (N,) int64
    answers: torch.Tensor  # (N,) int64
    answer_types: torch.Tensor  # (N,) int64
    questions: list[str]

    def __len__(self) -> int:
        return len(self.questions)


class QuestionDataset(PositionDataset):
    """Indexable view of a QuestionSet; `collate` assembles the batch dict described above."""

    def __init__(self, data: QuestionSet):
        self.data = data

    def collate(self, positions: list[int]) -> dict[str, torch.Tensor]:
        """Batch dict of the questions at `positions`; a negative position -1 - i is question i, not counted."""
        index, counted = unpack_positions(positions)
        image_rows, image_index = torch.unique(self.data.image_row[index], return_inverse=True)
        return {
            "images": self.data.images[image_rows],
            "image_index": image_index,
            "tokens": self.data.tokens[index],
            "lengths": self.data.lengths[index],
            "answers": self.data.answers[index],
            "answer_types": self.data.answer_types[index],
            "index": index,
            "counted": counted,
        }


def load_images(paths: list[Path], size: int, description: str) -> torch.Tensor:
    """Decode image files into one uint8 tensor (M, 3, size, size), with a progress bar."""
    images = torch.empty(len(paths), 3, size, size, dtype=torch.uint8)
    for row, path in enumerate(tqdm(paths, desc=description, unit="img", leave=False)):
        images[row] = torch.from_numpy(load_rgb(path, size)).permute(2, 0, 1)
    return images


def encode_split(
    split: easyvqa_files.EasyVQASplit, positions: np.ndarray, vocab: Vocabulary, answers: list[str],
    max_question_len: int, image_size: int, split_name: str,
) -> QuestionSet:
    """Encode the questions at `positions` of a split (named `split_name` in logs) and load just the images
    they use."""
    image_ids = sorted({split.image_ids[i] for i in positions})
    row_of_image = {image_id: row for row, image_id in enumerate(image_ids)}
    questions = [split.questions[i] for i in positions]
    report_long_questions(split_name, questions, vocab, max_question_len)
    tokens, lengths = vocab.encode_batch(questions, max_question_len)
    answer_index = {a: i for i, a in enumerate(answers)}
    gt = [split.answers[i] for i in positions]
    return QuestionSet(
        images=load_images([split.image_paths[i] for i in image_ids], image_size, f"{split_name} images"),
        image_ids=image_ids,
        image_row=torch.tensor([row_of_image[split.image_ids[i]] for i in positions], dtype=torch.long),
        tokens=tokens,
        lengths=lengths,
        answers=torch.tensor([answer_index[a] for a in gt], dtype=torch.long),
        answer_types=torch.tensor([easyvqa_files.ANSWER_TYPES.index(easyvqa_files.answer_type(a)) for a in gt]),
        questions=questions,
    )


def split_by_image(image_ids: list[int], val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Question positions of (train, validation), holding out `val_fraction` of the *images*.

    No image has questions on both sides.
    """
    if not 0.0 < val_fraction < 1.0:
        raise VlkitError(f"data.val_fraction must be in (0, 1), got {val_fraction}")
    ids = np.asarray(image_ids)
    unique = np.unique(ids)
    held_out_count = max(1, int(round(len(unique) * val_fraction)))
    if held_out_count >= len(unique):
        raise VlkitError(f"{len(unique)} training image(s) are too few to hold out a validation split")
    held_out = np.random.default_rng(seed).choice(unique, size=held_out_count, replace=False)
    is_val = np.isin(ids, held_out)
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)


@register_dataset("easy_vqa", EasyVQAData, PROVIDES)
class EasyVQADataModule(QuestionsDataModule):
    """easy-VQA train / validation (held out by image) / test, with grouped-by-image batches."""

    def __init__(self, options: EasyVQAData, seed: int, vocabularies: Optional[VQAVocabularies] = None):
        """`vocabularies`: a trained run's; None builds the question vocabulary from the training questions
        and reads the answer list of the dataset."""
        super().__init__(options, seed, vocabularies)
        self.root = Path(options.root) if options.root else easyvqa_files.default_root()
        if self.answers is None:
            self.answers = easyvqa_files.read_answers(self.root)

    def setup(self, stage: Optional[str] = None) -> None:
        if "train" in self.splits:
            return
        config = self.config
        train = easyvqa_files.read_split(self.root, "train", self.answers)
        positions = np.arange(len(train.questions))
        if config.train_subset is not None:
            positions = positions[: config.train_subset]
        train_ids = [train.image_ids[i] for i in positions]
        train_local, val_local = split_by_image(train_ids, config.val_fraction, config.split_seed)
        train_positions, val_positions = positions[train_local], positions[val_local]
        if self.vocab is None:
            self.vocab = Vocabulary.build(train.questions[i] for i in train_positions)
        encode = dict(vocab=self.vocab, answers=self.answers, max_question_len=config.max_question_len,
                      image_size=config.image_size)
        self.require_one_batch(len(train_positions))
        self.splits["train"] = encode_split(train, train_positions, split_name="train", **encode)
        self.splits["val"] = encode_split(train, val_positions[: config.eval_subset], split_name="val", **encode)

    def test_split(self) -> QuestionSet:
        """The test split, loaded on first use (it is read only once training is over)."""
        if "test" not in self.splits:
            if self.vocab is None:  # the vocabulary comes from the training questions
                self.setup()
            test = easyvqa_files.read_split(self.root, "test", self.answers)
            positions = np.arange(len(test.questions))[: self.config.eval_subset]
            self.splits["test"] = encode_split(
                test, positions, self.vocab, self.answers, self.config.max_question_len,
                self.config.image_size, "test",
            )
        return self.splits["test"]

    def split(self, name: str) -> QuestionSet:
        """A split by name: train, val or test (read on first use)."""
        if name == "test":
            return self.test_split()
        if name not in ("train", "val"):
            raise VlkitError(f"unknown split {name!r}; easy-VQA has train, val and test")
        self.setup()
        return self.splits[name]

    def has_answers(self, name: str) -> bool:
        """Every easy-VQA split has ground-truth answers."""
        return True

    def score(self, name: str, predicted: torch.Tensor) -> dict:
        """Single-answer accuracy report {"overall", "perAnswerType"} of predicted answer indices (N,)."""
        data = self.split(name)
        correct, total = count_correct(predicted, data.answers, data.answer_types, len(easyvqa_files.ANSWER_TYPES))
        return single_answer_report(correct, total, easyvqa_files.ANSWER_TYPES)

    def prediction_rows(self, name: str, predicted: torch.Tensor) -> list[dict]:
        """One {index, image_id, question, answer, ground_truth} per question, in split order."""
        data = self.split(name)
        return [
            {
                "index": position,
                "image_id": data.image_ids[int(data.image_row[position])],
                "question": data.questions[position],
                "answer": self.answers[int(predicted[position])],
                "ground_truth": self.answers[int(data.answers[position])],
            }
            for position in range(len(data))
        ]

    def batches_of(self, name: str) -> tuple[QuestionDataset, np.ndarray]:
        data = self.split(name)
        return QuestionDataset(data), data.image_row.numpy()
