"""LightningModule for VQA classifiers: loss, validation accuracy through the data's own scorer, optimiser.

A model that reads features runs on an image dataset (easy-VQA) behind a small CNN trained end to
end (`vlkit.vqa.end_to_end`, sized by the config's image_encoder section).
Loss: cross-entropy on the answer index when a batch has `answers` (easy-VQA: one answer per
question). With soft `targets` (VQA): binary cross-entropy summed over answers and averaged over
questions (MCAN), or, for models whose `loss` is "soft_cross_entropy" (SAAA), the soft-target
cross-entropy sum_a t_a (-log p_a) averaged over questions.
Validation: predictions are collected by question position (padding of evaluation shards left
out, ranks combined), then the data module scores them: easy-VQA with single-answer accuracy,
VQA with the official metric, so validation numbers equal what `vlkit vqa score` reports.
"""

from __future__ import annotations

import lightning.pytorch as pl
import torch
import torch.distributed as dist
import torch.nn.functional as F
from omegaconf import DictConfig, OmegaConf

from vlkit.config import model_options
from vlkit.errors import VlkitError
from vlkit.registry import build_model
from vlkit.vqa.datamodules import IMAGE_DATASETS
from vlkit.vqa.end_to_end import EndToEndFeatures


class VQAModule(pl.LightningModule):
    """Trains a registered VQA model on the batches of a VQA data module."""

    def __init__(self, config: dict, vocab_size: int, num_answers: int):
        super().__init__()
        self.save_hyperparameters()
        self.config: DictConfig = OmegaConf.create(config)
        options = model_options(self.config)
        model = build_model(self.config.model.name, options, vocab_size=vocab_size, num_answers=num_answers)
        if self.config.data.dataset in IMAGE_DATASETS and "features" in getattr(model, "inputs", ()):
            model = EndToEndFeatures(model, options.feature_dim, list(self.config.image_encoder.cnn_channels))
        self.model = model
        self.val_predictions: torch.Tensor | None = None

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Batch dict (see the data modules) -> {"logits": (B, A), ...}."""
        missing = [key for key in getattr(self.model, "inputs", ()) if key not in batch]
        if missing:
            raise VlkitError(f"model {self.config.model.name!r} needs {missing}, which data.dataset "
                             f"{self.config.data.dataset!r} does not provide")
        return self.model(batch)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        logits = self(batch)["logits"].float()
        if "targets" in batch and getattr(self.model, "loss", "bce") == "soft_cross_entropy":
            loss = -(batch["targets"] * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
        elif "targets" in batch:
            loss = F.binary_cross_entropy_with_logits(logits, batch["targets"], reduction="sum") / len(logits)
        else:
            loss = F.cross_entropy(logits, batch["answers"])
        if not torch.isfinite(loss):
            raise VlkitError(
                f"training loss became {loss.item()} at epoch {self.current_epoch}, step {self.global_step}; "
                "last.ckpt holds the last finished epoch: resume with a lower optim.lr or "
                "trainer.gradient_clip_val set (vlkit vqa train --resume RUN optim.lr=...)"
            )
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=len(logits))
        return loss

    def on_validation_epoch_start(self) -> None:
        size = len(self.trainer.datamodule.split("val"))
        self.val_predictions = torch.full((size,), -1, dtype=torch.long, device=self.device)

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        predicted = self(batch)["logits"].argmax(dim=1)
        counted = batch["counted"]
        self.val_predictions[batch["index"][counted]] = predicted[counted]

    def on_validation_epoch_end(self) -> None:
        predictions = self.val_predictions
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(predictions, op=dist.ReduceOp.MAX)  # every position was predicted on one rank
        report = self.trainer.datamodule.score("val", predictions.cpu())
        self.log("val/acc", report["overall"], prog_bar=True)
        for name, value in report["perAnswerType"].items():
            self.log(f"val/acc_{name.replace('/', '_')}", value)

    def configure_optimizers(self):
        optim = self.config.optim
        optimizer = torch.optim.Adam(
            self.parameters(), lr=optim.lr, betas=tuple(optim.betas), eps=optim.eps, weight_decay=optim.weight_decay
        )
        if optim.lr_halflife_steps:
            if optim.lr_decay_epochs or optim.lr_warmup_epochs:
                raise VlkitError("optim.lr_halflife_steps excludes optim.lr_warmup_epochs and optim.lr_decay_epochs")
            halving = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 0.5 ** (step / optim.lr_halflife_steps))
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": halving, "interval": "step"}}
        if not optim.lr_decay_epochs and not optim.lr_warmup_epochs:
            return optimizer
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: lr_factor(optim, epoch))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "epoch"}}


def lr_factor(optim: DictConfig, epoch: int) -> float:
    """Multiplier of optim.lr in 0-based `epoch`: warm-up (e + 1) / (w + 1), then decay at the listed epochs."""
    warmup = (epoch + 1) / (optim.lr_warmup_epochs + 1) if epoch < optim.lr_warmup_epochs else 1.0
    return warmup * optim.lr_decay_factor ** sum(epoch >= e for e in optim.lr_decay_epochs)
