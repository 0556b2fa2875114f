"""The answer classifier most VQA baselines end with: dropout, linear, ReLU, dropout, linear."""

from __future__ import annotations

from torch import nn


def mlp_classifier(in_dim: int, hidden_dim: int, num_classes: int, dropout: float) -> nn.Sequential:
    """(B, in_dim) -> logits (B, num_classes) through one hidden layer of `hidden_dim` with ReLU.

    Parameters are named `1.weight`, `1.bias`, `4.weight`, `4.bias` (the positions in the Sequential).
    """
    return nn.Sequential(
        nn.Dropout(dropout),
        nn.Linear(in_dim, hidden_dim),
        nn.ReLU(inplace=True),
        nn.Dropout(dropout),
        nn.Linear(hidden_dim, num_classes),
    )
