"""LSTM question + question-conditioned sigmoid spatial attention over a frozen feature grid.

A baseline between "LSTM Q + I" (Antol et al., ICCV 2015) and softmax attention (Yang et al.,
CVPR 2016): an LSTM (hidden 512) reads the question; a 1x1 convolution over the 7x7x512 ResNet-18
grid, added to a projection of the question vector and passed through ReLU, feeds a second 1x1
convolution whose sigmoid gates each cell independently (cells do not compete as under a
softmax, so several regions can be fully on). The image vector is the mean of the gated cells
(padding rows excluded); with the question vector it goes through an MLP (1024) to the answers.
No reference implementation or published number of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from vlkit.nn.classifier import mlp_classifier
from vlkit.nn.pooling import masked_mean
from vlkit.nn.recurrent import QuestionLSTM
from vlkit.vqa.models.registry import register_model


@dataclass
class LstmSpatialOptions:
    """Options of `lstm_spatial`; feature_dim must equal the feature store's D."""

    feature_dim: int = 512
    embed_dim: int = 300
    hidden_dim: int = 512
    attention_dim: int = 512
    classifier_dim: int = 1024
    dropout: float = 0.5


class LstmSpatialAttention(nn.Module):
    """features (B, K, D) + feature_mask (B, K) + tokens (B, T) -> logits (B, A), attention (B, 1, K) in (0, 1)."""

    def __init__(self, options: LstmSpatialOptions, vocab_size: int, num_answers: int):
        super().__init__()
        self.feature_dim = options.feature_dim
        self.question = QuestionLSTM(vocab_size, options.embed_dim, options.hidden_dim)
        self.image_proj = nn.Linear(options.feature_dim, options.attention_dim)  # the 1x1 conv, on (B, K, D) rows
        self.question_proj = nn.Linear(options.hidden_dim, options.attention_dim, bias=False)
        self.gate = nn.Linear(options.attention_dim, 1)
        self.classifier = mlp_classifier(options.feature_dim + options.hidden_dim, options.classifier_dim,
                                         num_answers, options.dropout)

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        features, mask = batch["features"], batch["feature_mask"]  # (B, K, D), (B, K)
        if features.shape[-1] != self.feature_dim:
            raise ValueError(f"features have D={features.shape[-1]} but model.feature_dim={self.feature_dim}")
        question = self.question(batch["tokens"], batch["lengths"])  # (B, H)
        hidden = torch.relu(self.image_proj(features) + self.question_proj(question).unsqueeze(1))  # (B, K, k)
        gates = torch.sigmoid(self.gate(hidden).squeeze(-1)) * mask  # (B, K), padding gated to 0
        image = masked_mean(features * gates.unsqueeze(-1).to(features.dtype), mask)  # (B, D)
        logits = self.classifier(torch.cat([image.to(question.dtype), question], dim=1))  # (B, A)
        return {"logits": logits, "attention": gates.unsqueeze(1)}


@register_model("lstm_spatial", LstmSpatialOptions)
def build_lstm_spatial(options: LstmSpatialOptions, vocab_size: int, num_answers: int) -> nn.Module:
    """Build `lstm_spatial` for a question vocabulary and an answer list of the given sizes."""
    return LstmSpatialAttention(options, vocab_size, num_answers)
