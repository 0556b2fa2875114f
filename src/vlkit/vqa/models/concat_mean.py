"""Concatenation baseline: pooled image feature + mean of the question's word embeddings -> MLP.

The first model most VQA courses and papers build before attention (the "deeper LSTM Q + norm I"
family without the LSTM; cf. Antol et al., "VQA: Visual Question Answering", ICCV 2015, and the
bag-of-words baselines of Zhou et al. 2015): the image is the mean of the frozen feature rows
(ResNet-18's pooled 512-d vector, or the mean over its 7x7 grid); the question is the mean of its
word embeddings (padding excluded); both are concatenated and classified by an MLP with one
hidden layer of 1024 units. It has no reference implementation or published number of its own;
expect it below iBOWIMG's 55.89 (VQA v1) on VQA v2, since it sees no word order and no regions.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from vlkit.nn.classifier import mlp_classifier
from vlkit.nn.pooling import masked_mean
from vlkit.vqa.models.registry import register_model


@dataclass
class ConcatMeanOptions:
    """Options of `concat_mean`; feature_dim must equal the feature store's D."""

    feature_dim: int = 512
    embed_dim: int = 300
    classifier_dim: int = 1024
    dropout: float = 0.5


class ConcatMean(nn.Module):
    """features (B, K, D) + feature_mask (B, K) + tokens (B, T) -> logits (B, A)."""

    def __init__(self, options: ConcatMeanOptions, vocab_size: int, num_answers: int):
        super().__init__()
        self.feature_dim = options.feature_dim
        self.embedding = nn.Embedding(vocab_size, options.embed_dim, padding_idx=0)
        self.classifier = mlp_classifier(options.feature_dim + options.embed_dim, options.classifier_dim,
                                         num_answers, options.dropout)

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        features, tokens = batch["features"], batch["tokens"]  # (B, K, D), (B, T)
        if features.shape[-1] != self.feature_dim:
            raise ValueError(f"features have D={features.shape[-1]} but model.feature_dim={self.feature_dim}")
        question = masked_mean(self.embedding(tokens), tokens != 0)  # (B, E)
        image = masked_mean(features, batch["feature_mask"]).to(question.dtype)  # (B, D)
        return {"logits": self.classifier(torch.cat([image, question], dim=1))}


@register_model("concat_mean", ConcatMeanOptions)
def build_concat_mean(options: ConcatMeanOptions, vocab_size: int, num_answers: int) -> nn.Module:
    """Build `concat_mean` for a question vocabulary and an answer list of the given sizes."""
    return ConcatMean(options, vocab_size, num_answers)
