"""The VQA LightningModule: answer classification losses, argmax predictions, logged validation accuracies.

Loss: cross-entropy on the answer index when a batch has `answers` (easy-VQA: one answer per
question). With soft `targets` (VQA): binary cross-entropy summed over answers and averaged over
questions (MCAN), or, for models registered with loss "soft_cross_entropy" (SAAA), the
soft-target cross-entropy sum_a t_a (-log p_a) averaged over questions.
Validation (`vlkit.core.module`): the data module scores the predicted answers, easy-VQA with
single-answer accuracy, VQA with the official metric, so validation numbers equal what
`vlkit vqa score` reports.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from vlkit.core.config import Config
from vlkit.core.module import TaskModule

MONITOR = "val/acc"


class VQAModule(TaskModule):
    """Trains a registered VQA model; outputs hold "logits" (B, A) and, for attention models, "attention"."""

    def __init__(self, config: Config, model: nn.Module, vocab_size: int, num_answers: int):
        super().__init__(config, model, {"vocab_size": vocab_size, "num_answers": num_answers})
        self.soft_target_loss: Optional[str] = config.model_entry.loss

    def loss(self, batch: dict[str, torch.Tensor], outputs: dict[str, torch.Tensor]) -> torch.Tensor:
        logits = outputs["logits"].float()
        if "targets" in batch and self.soft_target_loss == "soft_cross_entropy":
            return -(batch["targets"] * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
        if "targets" in batch:
            return F.binary_cross_entropy_with_logits(logits, batch["targets"], reduction="sum") / len(logits)
        return F.cross_entropy(logits, batch["answers"])

    def predict(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The highest-scoring answer index (B,) of each question."""
        return self(batch)["logits"].argmax(dim=1)

    def validation_metrics(self, report: dict) -> dict[str, float]:
        """val/acc and one val/acc_<answer type> per answer type of the report."""
        metrics = {MONITOR: report["overall"]}
        for name, value in report["perAnswerType"].items():
            metrics[f"val/acc_{name.replace('/', '_')}"] = value
        return metrics
