"""One-hop question-guided attention over precomputed image features (grid cells or regions).

The simple attention baseline researchers build first (one hop of the stacked attention of Yang et
al., "Stacked Attention Networks for Image Question Answering", CVPR 2016), on frozen features
such as ResNet-18's 7x7x512 grid: an LSTM (hidden 512) reads the question; each feature row v_i
gets the score w^T tanh(W_v v_i + W_q q) with k = 128; a softmax over the rows (padding rows
masked out) weights them; the attended image vector and the question vector are concatenated and
classified by an MLP.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from vlkit.nn.classifier import mlp_classifier
from vlkit.nn.recurrent import QuestionLSTM
from vlkit.vqa.models.registry import register_model


@dataclass
class QGuidedAttOptions:
    """Options of `qguided_att`; feature_dim must equal the feature store's D."""

    feature_dim: int = 512
    embed_dim: int = 300
    hidden_dim: int = 512
    attention_dim: int = 128
    classifier_dim: int = 1024
    dropout: float = 0.5


class QuestionGuidedAttention(nn.Module):
    """features (B, K, D) + feature_mask (B, K) + tokens (B, T) -> logits (B, A), attention (B, 1, K)."""

    def __init__(self, options: QGuidedAttOptions, vocab_size: int, num_answers: int):
        super().__init__()
        self.feature_dim = options.feature_dim
        self.question = QuestionLSTM(vocab_size, options.embed_dim, options.hidden_dim)
        self.image_proj = nn.Linear(options.feature_dim, options.attention_dim)
        self.question_proj = nn.Linear(options.hidden_dim, options.attention_dim)
        self.attention_score = nn.Linear(options.attention_dim, 1, bias=False)  # softmax ignores a bias
        self.classifier = mlp_classifier(options.feature_dim + options.hidden_dim, options.classifier_dim,
                                         num_answers, options.dropout)

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        features, mask = batch["features"], batch["feature_mask"]  # (B, K, D), (B, K)
        if features.shape[-1] != self.feature_dim:
            raise ValueError(f"features have D={features.shape[-1]} but model.feature_dim={self.feature_dim}")
        question = self.question(batch["tokens"], batch["lengths"])  # (B, H)
        hidden = torch.tanh(self.image_proj(features) + self.question_proj(question).unsqueeze(1))  # (B, K, k)
        scores = self.attention_score(hidden).squeeze(-1).masked_fill(~mask, float("-inf"))  # (B, K)
        attention = torch.softmax(scores, dim=1)  # (B, K)
        attended = torch.einsum("bk,bkd->bd", attention, features)  # (B, D)
        logits = self.classifier(torch.cat([attended, question], dim=1))  # (B, A)
        return {"logits": logits, "attention": attention.unsqueeze(1)}


@register_model("qguided_att", QGuidedAttOptions)
def build_qguided_att(options: QGuidedAttOptions, vocab_size: int, num_answers: int) -> nn.Module:
    """Build `qguided_att` for a question vocabulary and an answer list of the given sizes."""
    return QuestionGuidedAttention(options, vocab_size, num_answers)
