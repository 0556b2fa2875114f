"""VQA v1/v2 (+ Visual Genome) questions over precomputed image features: the Lightning DataModule.

Reads the official files (`vlkit.vqa.data.splits`) and a feature store (`vlkit.features.store`), runs the
data check before training (its report is kept in `check_report`), and leaves out -- with a
warning -- the questions whose image has no features, instead of failing mid-epoch.

A batch is a dict:
    features      (B, K, D) float32  the image's rows of the store
    feature_mask  (B, K) bool        from the store's num_boxes
    tokens        (B, T) int64       question tokens (data.tokenizer, MCAN's by default), padded
    lengths       (B,) int64
    targets       (B, A) float32     soft targets over the answer list (annotated splits; see answer_lists)
    index         (B,) int64         position of the question in its split
    counted       (B,) bool          False for the padding questions of an evaluation shard
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from lightning.pytorch.utilities import rank_zero_only

from vlkit.core.errors import InvalidValue, VlkitError
from vlkit.core.sampling import PositionDataset, unpack_positions
from vlkit.core.validation import check_choice
from vlkit.features.store import FeatureStore, skipped_ids
from vlkit.text.tokenizers import TOKENIZERS
from vlkit.vqa.data.answer_lists import ANSWER_LISTS, read_answer_dict, soft_targets
from vlkit.vqa.data.base import QuestionOptions, QuestionsDataModule, report_long_questions
from vlkit.vqa.data.checks import check_splits
from vlkit.vqa.data.official_files import VQAAnnotation
from vlkit.vqa.data.question_vocabularies import question_texts, question_vocabulary
from vlkit.vqa.data.registry import register_dataset
from vlkit.vqa.data.splits import VQASplit, load_split
from vlkit.vqa.data.vocabularies import VQAVocabularies
from vlkit.vqa.metrics.official import accuracy_report, batch_accuracy

log = logging.getLogger("vlkit")

PROVIDES = ("features", "feature_mask", "tokens", "lengths", "targets", "index", "counted")


@dataclass
class VQAData(QuestionOptions):
    """The data section of `data.dataset: vqa`: the official VQA files in `root` over the feature store `features`."""

    root: Optional[str] = None  # folder of the official question/annotation files
    features: Optional[str] = None  # feature store directory
    train_split: str = "train"  # train | train+val | train+val+vg
    val_split: str = "val"
    test_split: Optional[str] = None  # test-dev (default) | test | val
    answers: str = "mcan"  # answer list kind, mcan | pytorch-vqa, or mcan-vqa's answer_dict.json (mcan rules)
    answer_splits: Optional[str] = None  # annotations the answer list is built from; null: data.train_split
    vocab_splits: Optional[str] = None  # question files the vocabulary is built from; null: data.train_split
    answerable_only: bool = False  # train only on questions with a human answer in the list (pytorch-vqa)
    tokenizer: str = "mcan"  # question tokens, mcan | pytorch-vqa | words
    version: str = "v2"  # v1 | v2 file names
    legacy_metric: bool = False  # validate with the pre-2021 official evaluator

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.answers not in ANSWER_LISTS and not self.answers.endswith(".json"):
            raise InvalidValue("answers", self.answers,
                               f"one of {', '.join(sorted(ANSWER_LISTS))} or the path of mcan-vqa's answer_dict.json")
        check_choice(self, "tokenizer", sorted(TOKENIZERS))
        check_choice(self, "version", ("v1", "v2"))

    @property
    def answer_rules(self) -> str:
        """The `ANSWER_LISTS` kind whose normalisation and target scores apply (an answer_dict.json is MCAN's)."""
        return self.answers if self.answers in ANSWER_LISTS else "mcan"


@rank_zero_only
def _report(level: int, message: str, *args: object) -> None:
    """Log once per run, not once per DDP process."""
    log.log(level, message, *args)


@dataclass
class EncodedQuestions:
    """One split, encoded. Soft targets are stored sparsely (CSR): answers of question i are
    target_answers[target_offsets[i]:target_offsets[i + 1]]."""

    question_ids: np.ndarray  # (N,) int64
    image_ids: np.ndarray  # (N,) int64
    tokens: torch.Tensor  # (N, T) int64
    lengths: torch.Tensor  # (N,) int64
    annotations: Optional[list[VQAAnnotation]]
    target_offsets: Optional[np.ndarray] = None  # (N + 1,)
    target_answers: Optional[np.ndarray] = None  # (nnz,) int64
    target_scores: Optional[np.ndarray] = None  # (nnz,) float32

    def __len__(self) -> int:
        return len(self.question_ids)


class FeatureQuestions(PositionDataset):
    """Indexable view of EncodedQuestions; `collate` reads each distinct image's features once per batch."""

    def __init__(self, data: EncodedQuestions, store: FeatureStore, num_answers: int):
        self.data, self.store, self.num_answers = data, store, num_answers

    def collate(self, positions: list[int]) -> dict[str, torch.Tensor]:
        """Batch dict of the questions at `positions` (see the module docstring)."""
        index, counted = unpack_positions(positions)
        image_ids, inverse = np.unique(self.data.image_ids[index.numpy()], return_inverse=True)
        rows = self.store.get(image_ids)
        batch = {
            "features": torch.from_numpy(rows.features.astype(np.float32))[inverse],
            "feature_mask": torch.from_numpy(rows.mask)[inverse],
            "tokens": self.data.tokens[index],
            "lengths": self.data.lengths[index],
            "index": index,
            "counted": counted,
        }
        if self.data.target_offsets is not None:
            targets = torch.zeros(len(index), self.num_answers)
            for row, position in enumerate(index.tolist()):
                start, end = self.data.target_offsets[position], self.data.target_offsets[position + 1]
                targets[row, torch.from_numpy(self.data.target_answers[start:end])] = torch.from_numpy(
                    self.data.target_scores[start:end])
            batch["targets"] = targets
        return batch


@register_dataset("vqa", VQAData, PROVIDES)
class VQAFeaturesDataModule(QuestionsDataModule):
    """Official VQA splits (`data.train_split`, `data.val_split`, `data.test_split`) over `data.features`."""

    def __init__(self, options: VQAData, seed: int, vocabularies: Optional[VQAVocabularies] = None):
        super().__init__(options, seed, vocabularies)
        if not options.root:
            raise VlkitError("data.root must name the folder with the official VQA files (see docs/vqa.md)")
        if not options.features:
            raise VlkitError("data.features must name a feature store (vlkit features extract/import)")
        self.root = Path(options.root)
        self.store = FeatureStore(options.features)

    @property
    def test_split_name(self) -> str:
        return self.config.test_split or "test-dev"

    def setup(self, stage: Optional[str] = None) -> None:
        if "train" in self.splits:
            return
        config = self.config
        train = load_split(config.train_split, self.root, config.version)
        if train.annotations is None:
            raise VlkitError(f"data.train_split {config.train_split!r} has no annotations")
        val = load_split(config.val_split, self.root, config.version)
        if val.annotations is None:
            raise VlkitError(f"data.val_split {config.val_split!r} has no annotations: validate on val")
        if self.answers is None:
            self.answers = self._answer_list(train)
        if self.vocab is None:
            texts = (question_texts(self.root, config.vocab_splits, config.version) if config.vocab_splits
                     else [q.question for q in train.questions.values()])
            self.vocab = question_vocabulary(texts, config.tokenizer)
        self.check_report = check_splits(train, val, vocabulary=config.answer_rules, answers=self.answers,
                                         store=self.store)
        for warning in self.check_report["warnings"]:
            _report(logging.WARNING, "data check: %s", warning)
        baseline = self.check_report["majority_baseline"]
        _report(logging.INFO, "data check: majority-answer baseline on %s: %.2f %s", val.name, baseline["overall"],
                baseline["perAnswerType"])
        self.splits["train"] = self._encode(train, config.train_subset, answerable_only=config.answerable_only)
        self.require_one_batch(len(self.splits["train"]))
        self.splits["val"] = self._encode(val, config.eval_subset)

    def _answer_list(self, train: VQASplit) -> list[str]:
        """mcan-vqa's answer_dict.json when `data.answers` names one, else the list of that kind built from the
        annotations of `data.answer_splits` (by default the training split)."""
        config = self.config
        if config.answers not in ANSWER_LISTS:
            return read_answer_dict(config.answers)
        source = train if config.answer_splits in (None, config.train_split) else \
            load_split(config.answer_splits, self.root, config.version)
        if source.annotations is None:
            raise VlkitError(f"data.answer_splits {config.answer_splits!r} has no annotations to build answers from")
        answers = ANSWER_LISTS[config.answers].build(list(source.annotations.values()))
        if not answers:
            raise VlkitError(f"the {config.answers} answer list of {source.name} is empty: too few questions")
        return answers

    def _encode(self, split: VQASplit, limit: Optional[int], answerable_only: bool = False) -> EncodedQuestions:
        """Encode the questions whose image has features (the others are reported and left out); with
        `answerable_only`, only those with at least one human answer in the answer list (pytorch-vqa's filter)."""
        questions = list(split.questions.values())
        if answerable_only:
            normalise, listed = ANSWER_LISTS[self.config.answer_rules].normalise, set(self.answers)
            kept = [q for q in questions
                    if any(normalise(text) in listed for text in split.annotations[q.question_id].answers.texts)]
            _report(logging.INFO, "%s: %d of %d question(s) have a human answer in the answer list and are trained "
                    "on (data.answerable_only)", split.name, len(kept), len(questions))
            questions = kept
        image_ids = np.array([q.image_id for q in questions], dtype=np.int64)
        keep = self.store.has(image_ids)
        if not keep.all():
            missing = set(image_ids[~keep].tolist())
            skipped = missing & set(skipped_ids(self.store.manifest))
            _report(logging.WARNING, "%s: %d question(s) on %d image(s) without features are left out%s",
                    split.name, int((~keep).sum()), len(missing),
                    f" ({len(skipped)} of those images were skipped as unreadable when the store was made, "
                    f"e.g. {sorted(skipped)[:5]})" if skipped else "")
        questions = [q for q, kept in zip(questions, keep) if kept][:limit]
        if not questions:
            raise VlkitError(f"no question of {split.name} has image features in {self.store.directory}")
        texts = [q.question for q in questions]
        report_long_questions(split.name, texts, self.vocab, self.config.max_question_len)
        tokens, lengths = self.vocab.encode_batch(texts, self.config.max_question_len)
        annotations = [split.annotations[q.question_id] for q in questions] if split.annotations else None
        encoded = EncodedQuestions(
            question_ids=np.array([q.question_id for q in questions], dtype=np.int64),
            image_ids=np.array([q.image_id for q in questions], dtype=np.int64),
            tokens=tokens, lengths=lengths, annotations=annotations,
        )
        if annotations is not None:
            encoded.target_offsets, encoded.target_answers, encoded.target_scores = soft_targets(
                annotations, self.answers, self.config.answer_rules)
        return encoded

    def split(self, name: str) -> EncodedQuestions:
        """train / val (data.val_split) / any other split spec such as test-dev, encoded on first use.

        Training needs `setup` (data check, vocabulary, answer list); a trained run's evaluation, with
        its vocabulary and answers given, reads only the split it asks for.
        """
        if name not in self.splits and (name == "train" or self.vocab is None or self.answers is None):
            self.setup()
        if name not in self.splits:
            spec = self.config.val_split if name == "val" else name
            self.splits[name] = self._encode(load_split(spec, self.root, self.config.version), self.config.eval_subset)
        return self.splits[name]

    def has_answers(self, name: str) -> bool:
        return self.split(name).annotations is not None

    def score(self, name: str, predicted: torch.Tensor) -> dict:
        """Official VQA accuracy report of predicted answer indices (N,) (current rules, or legacy)."""
        data = self.split(name)
        if data.annotations is None:
            raise VlkitError(f"{name} has no annotations: submit its results file to EvalAI instead")
        answers = [self.answers[i] for i in predicted.tolist()]
        accuracies = batch_accuracy(answers, [a.answers for a in data.annotations], self.config.legacy_metric)
        return accuracy_report(accuracies, [a.answer_type for a in data.annotations],
                               [a.question_type for a in data.annotations])

    def prediction_rows(self, name: str, predicted: torch.Tensor) -> list[dict]:
        """EvalAI results: [{"question_id": int, "answer": str}] for every question of the split."""
        data = self.split(name)
        return [{"question_id": int(qid), "answer": self.answers[i]}
                for qid, i in zip(data.question_ids.tolist(), predicted.tolist())]

    def batches_of(self, name: str) -> tuple[FeatureQuestions, np.ndarray]:
        data = self.split(name)
        return FeatureQuestions(data, self.store, len(self.answers)), data.image_ids
