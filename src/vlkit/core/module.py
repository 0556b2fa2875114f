"""The LightningModule every task's module extends: optimiser and schedules, NaN guard, validation by the data's scorer.

A task's module adds three things: `loss(batch, outputs)`, `predict(batch)` (integer predictions
(B, ...) >= 0 per item) and `validation_metrics(report)` (what to log from the data module's score
report, the task's monitor among them). Validation predictions are collected by item position
(padding of evaluation shards left out, ranks combined), then the data module scores them, so
validation numbers equal what evaluating the same checkpoint reports.
"""

from __future__ import annotations

from abc import abstractmethod

import lightning.pytorch as pl
import torch
from torch import nn

from vlkit.core.config import Config
from vlkit.core.config_sections import OptimConfig
from vlkit.core.errors import VlkitError
from vlkit.core.predictions import IndexedPredictions
from vlkit.core.sampling import batch_size


class TaskModule(pl.LightningModule):
    """Trains `model` (kept as `self.model`, so checkpoint keys start with `model.`) on a task's batches."""

    def __init__(self, config: Config, model: nn.Module, sizes: dict[str, int]):
        """`sizes` (e.g. vocab_size, num_answers) are saved with the config as the checkpoint's hyper-parameters."""
        super().__init__()
        self.save_hyperparameters({"config": config.to_dict(), **sizes})
        self.config = config
        self.model = model
        self.val_predictions: IndexedPredictions | None = None

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Batch dict (see the task's data modules) -> the model's output dict."""
        return self.model(batch)

    @abstractmethod
    def loss(self, batch: dict[str, torch.Tensor], outputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Scalar training loss of one batch."""

    @abstractmethod
    def predict(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Integer predictions (B, ...) >= 0 of one batch, as the data module's `score` takes them."""

    @abstractmethod
    def validation_metrics(self, report: dict) -> dict[str, float]:
        """Metrics to log from the validation report; must hold the task's monitor (e.g. "val/acc")."""

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = self.loss(batch, self(batch))
        if not torch.isfinite(loss):
            raise VlkitError(
                f"training loss became {loss.item()} at epoch {self.current_epoch}, step {self.global_step}; "
                "last.ckpt holds the last finished epoch: resume with a lower optim.lr or "
                f"trainer.gradient_clip_val set (vlkit {self.config.task} train --resume RUN optim.lr=...)"
            )
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=batch_size(batch))
        return loss

    def on_validation_epoch_start(self) -> None:
        self.val_predictions = IndexedPredictions(self.trainer.datamodule.split_size("val"), self.device)

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self.val_predictions.add(batch["index"], batch["counted"], self.predict(batch))

    def on_validation_epoch_end(self) -> None:
        report = self.trainer.datamodule.score("val", self.val_predictions.gathered().cpu())
        monitor = self.trainer.checkpoint_callback.monitor
        for name, value in self.validation_metrics(report).items():
            self.log(name, value, prog_bar=name == monitor)

    def parameter_groups(self) -> list[dict]:
        """Adam's parameter groups: one at optim.lr by default; a task may give some parameters their own rate
        (captioning: a fine-tuned encoder's `encoder.lr`). The schedules scale every group's rate alike."""
        return [{"params": [p for p in self.parameters() if p.requires_grad]}]

    def configure_optimizers(self):
        optim = self.config.optim
        groups = self.parameter_groups()
        parameters = [p for group in groups for p in group["params"]]
        fused = all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in parameters)
        optimizer = torch.optim.Adam(  # fused: one kernel for all parameters (a for-loop per tensor on the CPU else)
            groups, lr=optim.lr, betas=tuple(optim.betas), eps=optim.eps, weight_decay=optim.weight_decay,
            fused=fused,
        )
        if optim.lr_halflife_steps:  # excludes the epoch schedules (checked by OptimConfig)
            halving = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 0.5 ** (step / optim.lr_halflife_steps))
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": halving, "interval": "step"}}
        if not optim.lr_decay_epochs and not optim.lr_warmup_epochs:
            return optimizer
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: lr_factor(optim, epoch))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "epoch"}}


def lr_factor(optim: OptimConfig, epoch: int) -> float:
    """Multiplier of optim.lr in 0-based `epoch`: warm-up (e + 1) / (w + 1), then decay at the listed epochs."""
    warmup = (epoch + 1) / (optim.lr_warmup_epochs + 1) if epoch < optim.lr_warmup_epochs else 1.0
    return warmup * optim.lr_decay_factor ** sum(epoch >= e for e in optim.lr_decay_epochs)
