"""LightningModule for VQA classifiers: loss, validation accuracy, optimiser."""

from __future__ import annotations

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from omegaconf import DictConfig, OmegaConf

from vlkit.config import model_options
from vlkit.errors import VlkitError
from vlkit.registry import build_model
from vlkit.vqa.easyvqa import ANSWER_TYPES
from vlkit.vqa.metric import accuracy_report, count_correct


class VQAModule(pl.LightningModule):
    """Trains a registered VQA model with cross-entropy on the single ground-truth answer."""

    def __init__(self, config: dict, vocab_size: int, num_answers: int):
        super().__init__()
        self.save_hyperparameters()
        self.config: DictConfig = OmegaConf.create(config)
        self.model = build_model(
            self.config.model.name, model_options(self.config), vocab_size=vocab_size, num_answers=num_answers
        )
        self.register_buffer("val_correct", torch.zeros(len(ANSWER_TYPES), dtype=torch.long), persistent=False)
        self.register_buffer("val_total", torch.zeros(len(ANSWER_TYPES), dtype=torch.long), persistent=False)

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Batch dict (see vlkit.vqa.data) -> {"logits": (B, A), "attention": (B, G, h, w)}."""
        return self.model(batch["images"], batch["image_index"], batch["tokens"], batch["lengths"])

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        logits = self(batch)["logits"]
        loss = F.cross_entropy(logits.float(), batch["answers"])
        if not torch.isfinite(loss):
            raise VlkitError(
                f"training loss became {loss.item()} at epoch {self.current_epoch}, step {self.global_step}; "
                "last.ckpt holds the last finished epoch: resume with a lower optim.lr or "
                "trainer.gradient_clip_val set (vlkit vqa train --resume RUN optim.lr=...)"
            )
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=len(batch["answers"]))
        return loss

    def on_validation_epoch_start(self) -> None:
        self.val_correct.zero_()
        self.val_total.zero_()

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        predicted = self(batch)["logits"].argmax(dim=1)
        correct, total = count_correct(predicted, batch["answers"], batch["answer_types"], len(ANSWER_TYPES),
                                       batch["counted"])
        self.val_correct += correct
        self.val_total += total

    def on_validation_epoch_end(self) -> None:
        correct = self.trainer.strategy.reduce(self.val_correct.clone(), reduce_op="sum")
        total = self.trainer.strategy.reduce(self.val_total.clone(), reduce_op="sum")
        report = accuracy_report(correct, total, ANSWER_TYPES)
        self.log("val/acc", report["overall"], prog_bar=True)
        for name, value in report["perAnswerType"].items():
            self.log(f"val/acc_{name.replace('/', '_')}", value)

    def configure_optimizers(self):
        optim = self.config.optim
        optimizer = torch.optim.Adam(
            self.parameters(), lr=optim.lr, betas=tuple(optim.betas), eps=optim.eps, weight_decay=optim.weight_decay
        )
        if not optim.lr_decay_epochs:
            return optimizer
        schedule = torch.optim.lr_scheduler.MultiStepLR(
            optimizer, milestones=list(optim.lr_decay_epochs), gamma=optim.lr_decay_factor
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "epoch"}}
