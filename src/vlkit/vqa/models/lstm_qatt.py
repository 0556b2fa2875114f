"""LSTM question with learned attention over its words + pooled image feature -> MLP.

The question-side counterpart of spatial attention (the self-attentive sentence pooling of Lin et
al., "A Structured Self-attentive Sentence Embedding", ICLR 2017, with one hop, used as the
question encoder of many VQA baselines): an LSTM (hidden 512) reads the question; each output h_t
gets the score w^T tanh(W h_t); a softmax over the real words (padding masked) weights the outputs
into the question vector. The image is the mean of the frozen feature rows (ResNet-18's pooled
512-d vector or its 7x7 grid). Both are concatenated and classified by an MLP (1024).
No reference implementation or published number of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from vlkit.nn.classifier import mlp_classifier
from vlkit.nn.pooling import masked_mean
from vlkit.nn.recurrent import run_lstm
from vlkit.vqa.models.registry import register_model


@dataclass
class LstmQattOptions:
    """Options of `lstm_qatt`; feature_dim must equal the feature store's D."""

    feature_dim: int = 512
    embed_dim: int = 300
    hidden_dim: int = 512
    attention_dim: int = 512
    classifier_dim: int = 1024
    dropout: float = 0.5


class LstmQuestionAttention(nn.Module):
    """features (B, K, D) + feature_mask (B, K) + tokens (B, T) -> logits (B, A), word_attention (B, T)."""

    def __init__(self, options: LstmQattOptions, vocab_size: int, num_answers: int):
        super().__init__()
        self.feature_dim = options.feature_dim
        self.embedding = nn.Embedding(vocab_size, options.embed_dim, padding_idx=0)
        self.lstm = nn.LSTM(options.embed_dim, options.hidden_dim, batch_first=True)
        self.word_proj = nn.Linear(options.hidden_dim, options.attention_dim)
        self.word_score = nn.Linear(options.attention_dim, 1, bias=False)  # softmax ignores a bias
        self.classifier = mlp_classifier(options.feature_dim + options.hidden_dim, options.classifier_dim,
                                         num_answers, options.dropout)

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        features, tokens, lengths = batch["features"], batch["tokens"], batch["lengths"]  # (B, K, D), (B, T), (B,)
        if features.shape[-1] != self.feature_dim:
            raise ValueError(f"features have D={features.shape[-1]} but model.feature_dim={self.feature_dim}")
        outputs, _ = run_lstm(self.lstm, self.embedding(tokens), lengths)  # (B, T, H)
        scores = self.word_score(torch.tanh(self.word_proj(outputs))).squeeze(-1)  # (B, T)
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        scores = scores.masked_fill(positions[None, :] >= lengths.to(tokens.device)[:, None], float("-inf"))
        word_attention = torch.softmax(scores, dim=1)  # (B, T)
        question = torch.einsum("bt,bth->bh", word_attention, outputs)  # (B, H)
        image = masked_mean(features, batch["feature_mask"]).to(question.dtype)  # (B, D)
        logits = self.classifier(torch.cat([image, question], dim=1))  # (B, A)
        return {"logits": logits, "word_attention": word_attention}


@register_model("lstm_qatt", LstmQattOptions)
def build_lstm_qatt(options: LstmQattOptions, vocab_size: int, num_answers: int) -> nn.Module:
    """Build `lstm_qatt` for a question vocabulary and an answer list of the given sizes."""
    return LstmQuestionAttention(options, vocab_size, num_answers)
