"""msvqa: DualVGR trained in two stages, a clip autoencoder first, then question answering.

vlkit's extension of DualVGR (`vlkit.videoqa.models.dualvgr`); no reference implementation or published
number of its own. The model is DualVGR with the same parameter names plus two decoders:

- stage "reconstruction": the visual encoders (the appearance BiLSTM over each clip's frames, the motion
  Linear) give clip nodes (B, C, D); DualVGR's MFB fusion (`visual_input_unit.visualfusion`) fuses them
  per clip *without* the question or the graph units; g1 = `appearance_decoder` and g2 = `motion_decoder`,
  each an MLP Linear(D, decoder_hidden_dim) -> ELU -> Linear(decoder_hidden_dim, feature dim), map every
  fused clip back to its appearance features averaged over the clip's frames (B, C, Da) and to its motion
  features (B, C, Dm). reconstruction_loss = MSE(g1, appearance mean) + MSE(g2, motion), each averaged
  over its elements. Only the visual encoders, the fusion and the decoders get gradients; the answer
  path (question encoder, units, pooling, classifier) runs without gradients, for the logits alone (its
  BatchNorm still updates its running statistics in training mode);
- stage "qa": exactly DualVGR (logits + auxiliary_loss); the decoders are kept, unused, so that a stage-2
  run loads the stage-1 checkpoint strictly. The QA stage's recipe names the stage-1 run in `init_from`.

`reconstruct: pixels` is for CNNs trained end to end on frames (`vlkit.videoqa.clip_encoder`): their own
features are a moving target that the encoders could shrink to nothing, so the decoders rebuild fixed pixel
summaries instead, which the clip encoder puts in the batch: each clip's mean frame and its mean absolute
frame difference, average-pooled to 3 x PIXEL_GRID x PIXEL_GRID (B, C, 48) in [-1, 1] and [0, 2].

A plain `dualvgr` state_dict loads into msvqa with `strict=False`, missing only the decoder keys
(`appearance_decoder.*`, `motion_decoder.*`), which keep PyTorch's default initialisation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from vlkit.core.validation import check_choice, check_positive_int
from vlkit.videoqa.models.dualvgr import DualVGR, DualVGROptions
from vlkit.videoqa.models.registry import register_model

RECONSTRUCTION, QA = "reconstruction", "qa"
STAGES = (RECONSTRUCTION, QA)
TARGETS = ("features", "pixels")
PIXEL_GRID = 4
PIXEL_TARGET_DIM = PIXEL_GRID * PIXEL_GRID * 3


@dataclass
class MSVQAOptions(DualVGROptions):
    """DualVGR's options plus the training stage and the decoders' hidden width."""

    stage: str = QA  # "reconstruction": train the clip autoencoder | "qa": train question answering
    decoder_hidden_dim: int = 1024
    reconstruct: str = "features"  # features: the clip features read | pixels: clip pixel summaries (on frames)
    init_from: Optional[str] = None  # run directory (its best.ckpt) or checkpoint a fresh run starts from

    def __post_init__(self) -> None:
        super().__post_init__()
        check_choice(self, "stage", STAGES)
        check_choice(self, "reconstruct", TARGETS)
        check_positive_int(self, "decoder_hidden_dim")


def clip_decoder(module_dim: int, hidden_dim: int, feature_dim: int) -> nn.Sequential:
    """Linear(D, hidden) -> ELU -> Linear(hidden, feature_dim): one fused clip -> its input features."""
    return nn.Sequential(nn.Linear(module_dim, hidden_dim), nn.ELU(), nn.Linear(hidden_dim, feature_dim))


class MSVQA(DualVGR):
    """DualVGR + clip decoders. Reconstruction stage: logits (B, A) and reconstruction_loss ();
    QA stage: DualVGR's outputs (logits, auxiliary_loss, clip_attention, word_attention)."""

    def __init__(self, options: MSVQAOptions, vocab_size: int, num_answers: int):
        super().__init__(options, vocab_size, num_answers)
        pixels = options.reconstruct == "pixels"
        self.appearance_decoder = clip_decoder(options.module_dim, options.decoder_hidden_dim,
                                               PIXEL_TARGET_DIM if pixels else options.appearance_dim)
        self.motion_decoder = clip_decoder(options.module_dim, options.decoder_hidden_dim,
                                           PIXEL_TARGET_DIM if pixels else options.motion_dim)

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        self.check_inputs(batch)
        appearance, motion = self.encode(batch)  # (B, C, D) each
        if self.options.stage == QA:
            return self.answer(batch, appearance, motion)
        with torch.no_grad():
            outputs = self.answer(batch, appearance, motion)
        del outputs["auxiliary_loss"]
        outputs["reconstruction_loss"] = self.reconstruction_loss(batch, appearance, motion)
        return outputs

    def reconstruction_loss(self, batch: dict[str, torch.Tensor], appearance: torch.Tensor, motion: torch.Tensor
                            ) -> torch.Tensor:
        """MSE of g1(fused) against the frame-averaged appearance features (B, C, Da) plus MSE of g2(fused)
        against the motion features (B, C, Dm), fused = MFB(appearance nodes, motion nodes) (B, C, D); with
        `reconstruct: pixels`, against batch["appearance_pixels"] and batch["motion_pixels"] (B, C, 48)."""
        fused = self.visual_input_unit.visualfusion(appearance, motion)
        if self.options.reconstruct == "pixels":
            targets = batch["appearance_pixels"], batch["motion_pixels"]
        else:
            targets = batch["appearance"].mean(dim=2), batch["motion"]
        return F.mse_loss(self.appearance_decoder(fused), targets[0]) + F.mse_loss(self.motion_decoder(fused), targets[1])


@register_model("msvqa", MSVQAOptions)
def build_msvqa(options: MSVQAOptions, vocab_size: int, num_answers: int) -> nn.Module:
    """Build msvqa for a question vocabulary and an answer list of the given sizes."""
    return MSVQA(options, vocab_size, num_answers)
