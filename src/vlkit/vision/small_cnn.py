"""A small convolutional image encoder trained end to end (no pretrained weights are needed)."""

from __future__ import annotations

import torch
from torch import nn


class SmallCNN(nn.Module):
    """Stages of conv3x3 -> GroupNorm -> ReLU -> 2x2 max-pool; an (H, W) image becomes an (H/2^S, W/2^S) grid.

    GroupNorm (not BatchNorm) keeps every image's features independent of the rest of the batch, so
    a data-parallel run computes exactly what a single process computes with the same global batch.
    """

    def __init__(self, channels: list[int], groups: int = 8):
        super().__init__()
        layers: list[nn.Module] = []
        in_channels = 3
        for out_channels in channels:
            layers += [
                nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
                nn.GroupNorm(min(groups, out_channels), out_channels),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            ]
            in_channels = out_channels
        self.layers = nn.Sequential(*layers)
        self.out_channels = in_channels

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 or float images (U, 3, H, W) in [0, 255] -> grid features (U, C, H', W')."""
        pixels = images.float() / 127.5 - 1.0
        return self.layers(pixels)
