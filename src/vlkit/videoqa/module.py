"""The video QA LightningModule: answer cross-entropy plus the model's own losses, argmax predictions, accuracies.

Loss: cross-entropy over the answer classes (a train answer outside them is class 0, trained on as HCRN
does) plus `auxiliary_loss` when the model returns one (DualVGR's covariance-matching and HSIC terms,
already weighted). In msvqa's reconstruction stage (`model.stage: reconstruction`) the loss is the
model's `reconstruction_loss` alone, validation logs its mean over the validation videos as
`val/reconstruction` (which then picks best.ckpt, lowest first), and the answer accuracies are still
logged for reference.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vlkit.core.config import Config
from vlkit.core.module import TaskModule
from vlkit.core.sampling import batch_size

MONITOR = "val/acc"
RECONSTRUCTION_MONITOR = "val/reconstruction"
RECONSTRUCTION_STAGE = "reconstruction"


def reconstruction_stage(config: Config) -> bool:
    """Whether the configured model trains its reconstruction stage (msvqa stage 1)."""
    return getattr(config.model, "stage", None) == RECONSTRUCTION_STAGE


class VideoQAModule(TaskModule):
    """Trains a registered video QA model; outputs hold "logits" (B, A) and optionally "clip_attention" (B, C)."""

    def __init__(self, config: Config, model: nn.Module, vocab_size: int, num_answers: int):
        super().__init__(config, model, {"vocab_size": vocab_size, "num_answers": num_answers})
        self.reconstructing = reconstruction_stage(config)
        self.val_reconstruction: list[tuple[float, int]] = []

    def loss(self, batch: dict[str, torch.Tensor], outputs: dict[str, torch.Tensor]) -> torch.Tensor:
        if self.reconstructing:
            return outputs["reconstruction_loss"]
        loss = F.cross_entropy(outputs["logits"].float(), batch["answers"])
        if "auxiliary_loss" in outputs:
            self.log("train/auxiliary_loss", outputs["auxiliary_loss"], on_step=False, on_epoch=True,
                     batch_size=batch_size(batch))
            loss = loss + outputs["auxiliary_loss"]
        return loss

    def predict(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The highest-scoring answer class (B,) of each question."""
        return self(batch)["logits"].argmax(dim=1)

    def on_validation_epoch_start(self) -> None:
        super().on_validation_epoch_start()
        self.val_reconstruction = []

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        if not self.reconstructing:
            return super().validation_step(batch, batch_idx)
        outputs = self(batch)
        self.val_predictions.add(batch["index"], batch["counted"], outputs["logits"].argmax(dim=1))
        self.val_reconstruction.append((float(outputs["reconstruction_loss"]), int(batch["counted"].sum())))

    def on_validation_epoch_end(self) -> None:
        super().on_validation_epoch_end()
        if self.reconstructing:
            total = sum(count for _, count in self.val_reconstruction)
            mean = sum(value * count for value, count in self.val_reconstruction) / max(total, 1)
            self.log(RECONSTRUCTION_MONITOR, mean, prog_bar=True, sync_dist=True)

    def validation_metrics(self, report: dict) -> dict[str, float]:
        """val/acc and one val/acc_<question type> per type of the report."""
        metrics = {MONITOR: report["accuracy"]}
        for name, value in report["per_type"].items():
            metrics[f"val/acc_{name}"] = value
        return metrics
