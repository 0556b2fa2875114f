"""iBOWIMG: Simple Baseline for Visual Question Answering (Zhou et al. 2015, arXiv 1512.02167).

As zhoubolei/VQAbaseline builds it: the question is a binary bag of words over the question
vocabulary (1 where a word occurs, however often; unknown words share one entry), embedded by a
linear map without bias to 1024 dimensions; the image is GoogLeNet's pooled 1024-d feature;
the two are concatenated and a single linear layer without bias followed by a softmax gives the
answer. Reported: 55.89 overall on VQA v1 test-std open-ended (55.72 test-dev).

Here the image vector is the mean of the feature rows the mask keeps: with a pooled feature store
(K = 1) that is the pooled feature itself. The reference trains with SGD (momentum 0.9) at a
learning rate of 0.8 for the word embedding and 0.01 for the softmax layer, with weight clipping;
vlkit's recipes train it with Adam (see configs/vqa/bow_vqa2.yaml).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from vlkit.nn.pooling import masked_mean
from vlkit.vqa.models.registry import register_model


@dataclass
class BowOptions:
    """Options of `bow` (the reference's values are the defaults: GoogLeNet 1024-d, embedding 1024)."""

    feature_dim: int = 1024
    embed_dim: int = 1024


class BagOfWordsImage(nn.Module):
    """features (B, K, D) + feature_mask (B, K) + tokens (B, T) -> logits (B, A)."""

    def __init__(self, options: BowOptions, vocab_size: int, num_answers: int):
        super().__init__()
        self.feature_dim = options.feature_dim
        # Row w of word_embed is the linear map's column for word w: bag (B, V) @ weight (V, E).
        self.word_embed = nn.Parameter(torch.empty(vocab_size, options.embed_dim))
        self.classifier = nn.Linear(options.embed_dim + options.feature_dim, num_answers, bias=False)
        nn.init.normal_(self.word_embed, std=options.embed_dim ** -0.5)

    def bag_of_words(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens (B, T) -> embedded binary bag of words (B, E); padding (0) and repeats count nothing."""
        ordered, _ = tokens.sort(dim=1)  # (B, T)
        first_occurrence = torch.ones_like(ordered, dtype=torch.bool)
        first_occurrence[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
        weights = (first_occurrence & (ordered != 0)).to(self.word_embed.dtype)  # (B, T)
        return F.embedding_bag(ordered, self.word_embed, mode="sum", per_sample_weights=weights)

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        features = batch["features"]  # (B, K, D)
        if features.shape[-1] != self.feature_dim:
            raise ValueError(f"features have D={features.shape[-1]} but model.feature_dim={self.feature_dim}")
        image = masked_mean(features, batch["feature_mask"])  # (B, D)
        question = self.bag_of_words(batch["tokens"])  # (B, E)
        return {"logits": self.classifier(torch.cat([question, image.to(question.dtype)], dim=1))}


@register_model("bow", BowOptions)
def build_bow(options: BowOptions, vocab_size: int, num_answers: int) -> nn.Module:
    """iBOWIMG for a question vocabulary and an answer list of the given sizes."""
    return BagOfWordsImage(options, vocab_size, num_answers)
