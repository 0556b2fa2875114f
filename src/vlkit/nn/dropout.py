"""Dropout whose p = 0.5 masks on the CPU come from random bits: the same distribution, a third of the time.

PyTorch's CPU dropout draws one random number per element (a Bernoulli sample) and keeps a float
mask; for SAAA's 128 x 196 x 2048 image grid that is about a second of a three-second training
step on two cores. With p = 0.5 every element is kept with probability exactly 1/2, which is one
uniformly random bit: one 64-bit draw covers 64 elements, and the mask is kept as bytes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

BIT_SHIFTS = torch.arange(8, dtype=torch.uint8)


def half_keep_mask(shape: torch.Size, device: torch.device) -> torch.Tensor:
    """A uint8 tensor of `shape`, each element 1 with probability 1/2 (to within 2^-64), independently (from the
    default generator, so `torch.manual_seed` makes it repeatable)."""
    count = shape.numel()
    words = torch.randint(-2 ** 63, 2 ** 63 - 1, ((count + 63) // 64,), dtype=torch.int64, device=device)
    bits = (words.view(torch.uint8)[:, None] >> BIT_SHIFTS.to(device)) & 1  # (8 * words, 8)
    return bits.view(-1)[:count].view(shape)


class Dropout(nn.Dropout):
    """`nn.Dropout` (same arguments, no parameters); with p = 0.5 on the CPU in training, the mask comes from
    `half_keep_mask` and the kept elements are doubled, as nn.Dropout scales them by 1 / (1 - p)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and self.p == 0.5 and x.device.type == "cpu"):
            return F.dropout(x, self.p, self.training, self.inplace)
        return x * (half_keep_mask(x.shape, x.device) << 1)
