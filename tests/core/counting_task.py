"""A task defined outside the package, to show that a new task needs no core edits.

"Counting": an item is a vector of `length` bits; its label is how many bits are set (0..length).
It has its own data (generated from a seed), dataset and model registries, a fixed config section
(`loss`), a run file (`labels.json`), a metric (exact accuracy and mean absolute error of the
count), a report line and a Predictor. Every part below uses only `vlkit.core`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import lightning.pytorch as pl
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vlkit.core.config import Config
from vlkit.core.module import TaskModule
from vlkit.core.predictor import Predictor
from vlkit.core.registry import DatasetEntry, ModelEntry, Registry
from vlkit.core.sampling import LoaderOptions, PositionDataset, grouped_loader, unpack_positions
from vlkit.core.task import Task

MODELS: Registry[ModelEntry] = Registry("counting model")
DATASETS: Registry[DatasetEntry] = Registry("counting dataset")


@dataclass
class BitsData(LoaderOptions):
    """Data section of `data.dataset: bits`."""

    length: int = 8
    train_items: int = 1024
    eval_items: int = 256
    seed: int = 0


@dataclass
class LossOptions:
    """The task's own fixed section."""

    label_smoothing: float = 0.0


class Bits(PositionDataset):
    def __init__(self, bits: torch.Tensor):
        self.data = bits  # (N, L) float32

    def collate(self, positions: list[int]) -> dict[str, torch.Tensor]:
        index, counted = unpack_positions(positions)
        bits = self.data[index]
        return {"bits": bits, "label": bits.sum(dim=1).long(), "index": index, "counted": counted}


class BitsDataModule(pl.LightningDataModule):
    """train / val / test of random bit vectors; the labels list is the run's vocabulary."""

    test_split_name = "test"

    def __init__(self, options: BitsData, seed: int, vocabularies: Optional[list[str]] = None):
        super().__init__()
        self.options, self.seed = options, seed
        self.vocabularies = vocabularies
        self.check_report = None
        generator = torch.Generator().manual_seed(options.seed)
        sizes = {"train": options.train_items, "val": options.eval_items, "test": options.eval_items}
        self.splits = {name: torch.randint(0, 2, (size, options.length), generator=generator).float()
                       for name, size in sizes.items()}

    def setup(self, stage: Optional[str] = None) -> None:
        if self.vocabularies is None:
            self.vocabularies = [str(count) for count in range(self.options.length + 1)]

    def split_size(self, name: str) -> int:
        return len(self.splits[name])

    def loader(self, name: str, training: bool = False):
        return grouped_loader(Bits(self.splits[name]), np.arange(self.split_size(name)), self.options, self.seed,
                              training)

    def train_dataloader(self):
        return self.loader("train", training=True)

    def val_dataloader(self):
        return self.loader("val")

    def has_answers(self, name: str) -> bool:
        return True

    def score(self, name: str, predictions: torch.Tensor) -> dict:
        truth = self.splits[name].sum(dim=1).long()
        return {"accuracy": round(100.0 * float((predictions == truth).float().mean()), 2),
                "mean_abs_error": round(float((predictions - truth).abs().float().mean()), 4)}

    def prediction_rows(self, name: str, predictions: torch.Tensor) -> list[dict]:
        truth = self.splits[name].sum(dim=1).long()
        return [{"index": i, "count": int(p), "truth": int(t)} for i, (p, t) in enumerate(zip(predictions, truth))]


DATASETS.add(DatasetEntry("bits", BitsDataModule, BitsData, ("bits", "label", "index", "counted")))


@dataclass
class MlpOptions:
    hidden: int = 64


class CountingMLP(nn.Module):
    def __init__(self, options: MlpOptions, length: int, num_labels: int):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(length, options.hidden), nn.ReLU(), nn.Linear(options.hidden, num_labels))

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"logits": self.layers(batch["bits"])}  # (B, L + 1)


MODELS.add(ModelEntry("mlp", CountingMLP, MlpOptions, inputs=("bits",)))


class CountingModule(TaskModule):
    def loss(self, batch, outputs):
        smoothing = self.config.sections["loss"].label_smoothing
        return F.cross_entropy(outputs["logits"], batch["label"], label_smoothing=smoothing)

    def predict(self, batch):
        return self(batch)["logits"].argmax(dim=1)

    def validation_metrics(self, report):
        return {"val/accuracy": report["accuracy"], "val/mean_abs_error": report["mean_abs_error"]}


class CountingPredictor(Predictor):
    @torch.no_grad()
    def count(self, bits: list[int]) -> int:
        batch = {"bits": torch.tensor([bits], dtype=torch.float32, device=self.device)}
        return int(self.trained.module(batch)["logits"].argmax(dim=1))


class CountingTask(Task):
    name = "counting"
    title = "counting"
    models = MODELS
    datasets = DATASETS
    sections = {"loss": LossOptions}
    default_dataset = "bits"
    default_model = "mlp"
    default_run_name = "mlp_bits"
    monitor = "val/accuracy"
    primary_metric = "accuracy"
    run_files = ("labels.json",)
    predictor_class = CountingPredictor

    def build_module(self, config: Config, vocabularies: list[str], fresh: bool) -> CountingModule:
        model = config.model_entry.builder(config.model, config.data.length, len(vocabularies))
        return CountingModule(config, model, {"num_labels": len(vocabularies)})

    def write_run_files(self, run_dir: Path, vocabularies: list[str]) -> None:
        (run_dir / "labels.json").write_text(json.dumps(vocabularies))

    def read_run_files(self, run_dir: Path) -> list[str]:
        return json.loads((run_dir / "labels.json").read_text())

    def format_report(self, report: dict) -> str:
        return f"{report['split']}: {report['accuracy']:.2f}% exact counts"
