"""Show, Ask, Attend and Answer (Kazemi & Elqursh 2017, arXiv 1704.03162), as Cyanogenoid/pytorch-vqa builds it.

Image: ResNet-152 grid features (14 x 14 x 2048 from 448 x 448 inputs), L2-normalised over the
channels at every position. Question: word embeddings (300) -> dropout -> tanh -> one-layer LSTM
(1024) over the packed sequence; the question vector is the LSTM's final *cell* state. Attention:
1x1 conv 2048 -> 512 (no bias) on the image, linear 1024 -> 512 on the question tiled over the
grid, ReLU of their sum, 1x1 conv 512 -> 2 glimpses; a softmax over the 196 positions per glimpse;
the two attended vectors and the question vector (4096 + 1024) go through dropout -> linear 1024
-> ReLU -> dropout -> linear to the 3,000 answers. Dropout 0.5 everywhere, as in the reference.
Trained with the soft cross-entropy sum_a (count_a / 10) (-log p_a); Adam, lr 1e-3 x
0.5^(step / 50000), batch 128. Reported: 59.7 on VQA v2 val (repository), 64.6 VQA v1 test-std (paper).

Parameter names follow the reference (`text.lstm.weight_ih_l0`, `attention.v_conv.weight`,
`classifier.lin1.weight`, ...); initialisation as the reference: Xavier-uniform weights (per LSTM
gate), zero biases.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from vlkit.nn.dropout import Dropout
from vlkit.nn.recurrent import run_lstm
from vlkit.vqa.models.registry import register_model


@dataclass
class SaaaOptions:
    """Options of `saaa` (the reference's values are the defaults)."""

    feature_dim: int = 2048
    embed_dim: int = 300
    question_dim: int = 1024
    attention_dim: int = 512
    glimpses: int = 2
    classifier_dim: int = 1024
    dropout: float = 0.5


class TextProcessor(nn.Module):
    """tokens (B, T), lengths (B,) -> final LSTM cell state (B, question_dim)."""

    def __init__(self, vocab_size: int, embed_dim: int, question_dim: int, dropout: float):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.drop = Dropout(dropout)
        self.tanh = nn.Tanh()
        self.lstm = nn.LSTM(embed_dim, question_dim, num_layers=1)
        for weight in (self.lstm.weight_ih_l0, self.lstm.weight_hh_l0):
            for gate in weight.data.chunk(4, 0):
                nn.init.xavier_uniform_(gate)
        self.lstm.bias_ih_l0.data.zero_()
        self.lstm.bias_hh_l0.data.zero_()
        nn.init.xavier_uniform_(self.embedding.weight)

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        embedded = self.tanh(self.drop(self.embedding(tokens)))
        _, (_, cell) = run_lstm(self.lstm, embedded, lengths)
        return cell.squeeze(0)


class Attention(nn.Module):
    """Glimpse logits over the grid from channels-last cells: image (B, K, D) + question (B, Q) -> (B, K, G).

    The reference's 1x1 convolutions are linear maps of each cell's channels; they run here as matmuls on
    the (B, K, D) rows the feature store holds, with the convolution weights (and names) kept."""

    def __init__(self, options: SaaaOptions):
        super().__init__()
        self.v_conv = nn.Conv2d(options.feature_dim, options.attention_dim, 1, bias=False)
        self.q_lin = nn.Linear(options.question_dim, options.attention_dim)
        self.x_conv = nn.Conv2d(options.attention_dim, options.glimpses, 1)
        self.drop = Dropout(options.dropout)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, image: torch.Tensor, cell_scale: torch.Tensor, question: torch.Tensor) -> torch.Tensor:
        """image (B, K, D) raw cells, cell_scale (B, K, 1) the factor that L2-normalises each cell,
        question (B, Q) -> (B, K, G).

        v_conv has no bias, so projecting the dropped-out raw cells and scaling each cell afterwards
        equals projecting the dropped-out normalised cells, without writing the normalised grid."""
        v = F.linear(self.drop(image), self.v_conv.weight.flatten(1)) * cell_scale  # (B, K, M)
        q = self.q_lin(self.drop(question))[:, None, :]  # (B, 1, M), tiled over the grid by broadcasting
        return F.linear(self.drop(self.relu(v + q)), self.x_conv.weight.flatten(1), self.x_conv.bias)


class Classifier(nn.Sequential):
    def __init__(self, in_features: int, mid_features: int, out_features: int, dropout: float):
        super().__init__()
        self.add_module("drop1", Dropout(dropout))
        self.add_module("lin1", nn.Linear(in_features, mid_features))
        self.add_module("relu", nn.ReLU())
        self.add_module("drop2", Dropout(dropout))
        self.add_module("lin2", nn.Linear(mid_features, out_features))


class SAAA(nn.Module):
    """features (B, K, D) grid cells + tokens (B, T) -> logits (B, A) and attention (B, G, K)."""

    def __init__(self, options: SaaaOptions, vocab_size: int, num_answers: int):
        super().__init__()
        self.text = TextProcessor(vocab_size, options.embed_dim, options.question_dim, options.dropout)
        self.attention = Attention(options)
        self.classifier = Classifier(options.glimpses * options.feature_dim + options.question_dim,
                                     options.classifier_dim, num_answers, options.dropout)
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Conv2d)):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    module.bias.data.zero_()

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        question = self.text(batch["tokens"], batch["lengths"])  # (B, Q)
        features = batch["features"]  # (B, K, D), channels last as the store holds them
        cell_scale = 1 / (torch.linalg.vector_norm(features, dim=2, keepdim=True) + 1e-8)  # L2 over channels per cell
        logits = self.attention(features, cell_scale, question)  # (B, K, G)
        logits = logits.masked_fill(~batch["feature_mask"][:, :, None], float("-inf"))
        weights = torch.softmax(logits, dim=1)  # per glimpse over the grid
        attended = torch.einsum("bkg,bkd->bgd", weights * cell_scale, features).flatten(1)  # (B, G * D)
        return {"logits": self.classifier(torch.cat([attended, question], dim=1)), "attention": weights.transpose(1, 2)}


@register_model("saaa", SaaaOptions, loss="soft_cross_entropy")
def build_saaa(options: SaaaOptions, vocab_size: int, num_answers: int) -> nn.Module:
    """Show, Ask, Attend and Answer for a question vocabulary and an answer list of the given sizes."""
    return SAAA(options, vocab_size, num_answers)
