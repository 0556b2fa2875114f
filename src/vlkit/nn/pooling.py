"""Masked mean pooling shared by the models that average image rows or question words."""

from __future__ import annotations

import torch


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """values (B, K, D), mask (B, K) bool -> mean of the rows where mask is True (B, D).

    A pooled-feature store (K = 1) returns its vector unchanged; rows beyond num_boxes and padding
    tokens contribute nothing. A sample with no valid row gets zeros, never NaN.
    """
    weights = mask.to(values.dtype).unsqueeze(-1)  # (B, K, 1)
    return (values * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
