"""The captioning LightningModule: cross-entropy on the caption words, attention regularisation, decoded validation.

Loss (as the tutorial's train.py computes it): cross-entropy over the predicted words of every
caption up to its `<end>` (the packed targets: padding steps never count), averaged over words,
plus, for models that attend and set `alpha_c` > 0, Xu et al.'s doubly stochastic regularisation
alpha_c x mean over (caption, region) of (1 - sum over the caption's steps of the region's weight)^2.
Top-5 word accuracy on the same targets is logged as `train/top5`.

Validation decodes every validation image with the beam search of the `decoding` section and scores
the captions with pycocoevalcap (`vlkit.caption.data.module`): `val/score` is the metric that
`decoding.val_metric` names (CIDEr by default), logged with the others; never teacher-forced argmax.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from vlkit.caption.decoding import beam_search
from vlkit.caption.models.base import CaptionModel
from vlkit.core.config import Config
from vlkit.core.module import TaskModule
from vlkit.core.sampling import batch_size

MONITOR = "val/score"
LOGGED_METRICS = ("Bleu_1", "Bleu_4", "ROUGE_L", "CIDEr", "METEOR", "tutorial_bleu4")


def visual_inputs(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """What the model encodes: the batch's stored grid features (B, P, D) when it has them (`data.features`), else
    its uint8 images (B, 3, S, S)."""
    return batch["features"] if "features" in batch else batch["images"]


def caption_targets(captions: torch.Tensor, lengths: torch.Tensor, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The words each of `steps` decoding steps predicts: captions (B, T), lengths (B,) -> targets (B, steps) and
    valid (B, steps) bool, True for the lengths - 1 steps up to and including `<end>`."""
    targets = captions[:, 1:steps + 1]
    valid = torch.arange(steps, device=captions.device) < (lengths - 1)[:, None]
    return targets, valid


def attention_regularisation(attention: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Doubly stochastic penalty: attention (B, L, P) over valid steps (B, L) -> mean of (1 - sum_t alpha)^2."""
    return ((1.0 - (attention * valid.unsqueeze(-1)).sum(dim=1)) ** 2).mean()


class CaptionModule(TaskModule):
    """Trains a registered captioning model; predictions are decoded word indices (B, max_length), 0-padded."""

    def __init__(self, config: Config, model: CaptionModel, vocab_size: int, start: int, end: int):
        super().__init__(config, model, {"vocab_size": vocab_size, "start": start, "end": end})
        self.start_index = start
        self.end_index = end
        self.decoding = config.sections["decoding"]
        self.alpha_c: float = getattr(config.model, "alpha_c", 0.0)

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return self.model(visual_inputs(batch), batch["captions"], batch["lengths"])

    def loss(self, batch: dict[str, torch.Tensor], outputs: dict[str, torch.Tensor]) -> torch.Tensor:
        logits = outputs["logits"].float()  # (B, L, V)
        targets, valid = caption_targets(batch["captions"], batch["lengths"], logits.shape[1])
        scored, wanted = logits[valid], targets[valid]  # (W, V), (W,): the packed words
        loss = F.cross_entropy(scored, wanted)
        if self.alpha_c and "attention" in outputs:
            loss = loss + self.alpha_c * attention_regularisation(outputs["attention"].float(), valid)
        top5 = (scored.topk(min(5, scored.shape[1]), dim=1).indices == wanted[:, None]).any(dim=1).float().mean()
        self.log("train/top5", 100.0 * top5, on_step=False, on_epoch=True, batch_size=batch_size(batch))
        return loss

    def predict(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Beam-search captions (B, max_length): word indices without `<start>`/`<end>`, then 0 (`<pad>`)."""
        decoded = self.decode(visual_inputs(batch))
        width = self.decoding.max_length
        return F.pad(decoded.tokens, (0, width - decoded.tokens.shape[1]))

    def decode(self, images: torch.Tensor, beam_size: int | None = None):
        """Beam search (`decoding` section; `beam_size` overrides its width) over uint8 images (B, 3, S, S) or their
        stored features (B, P, D)."""
        return beam_search(self.model, self.model.encode(images), self.start_index, self.end_index,
                           beam_size or self.decoding.beam_size, self.decoding.max_length,
                           self.decoding.length_normalization)

    def validation_metrics(self, report: dict) -> dict[str, float]:
        """val/score (the metric `decoding.val_metric` names) and val/<metric> for the main coco-caption metrics."""
        metrics = {MONITOR: report[self.decoding.val_metric]}
        metrics.update({f"val/{name}": report[name] for name in LOGGED_METRICS if name in report})
        return metrics

    def parameter_groups(self) -> list[dict]:
        """The decoder at optim.lr; the encoder's trained parameters (fine-tuning, or a CNN trained from scratch) at
        encoder.lr, as the tutorial's separate encoder optimiser."""
        encoder = self.model.encoder.trained_parameters()
        own = {id(p) for p in encoder}
        rest = [p for p in self.parameters() if p.requires_grad and id(p) not in own]
        groups = [{"params": rest}]
        if encoder:
            groups.append({"params": encoder, "lr": self.config.sections["encoder"].lr})
        return groups
