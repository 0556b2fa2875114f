"""Predictions collected by item position: what validation (all ranks) and evaluation (one process) both fill."""

from __future__ import annotations

from typing import Optional

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from vlkit.core.sampling import distributed_rank_and_size


class IndexedPredictions:
    """A (N, ...) integer tensor of one split's predictions, filled batch by batch at the items' positions.

    Unfilled rows hold -1. Under DDP each position is predicted on exactly one rank (the sampler's
    padding items are not counted), so `gathered` combines the ranks with an element-wise maximum.
    """

    def __init__(self, size: int, device: torch.device | str = "cpu"):
        self.size = size
        self.device = device
        self.values: Optional[torch.Tensor] = None

    def add(self, index: torch.Tensor, counted: torch.Tensor, predicted: torch.Tensor) -> None:
        """index (B,) positions, counted (B,) bool, predicted (B, ...) integers >= 0 of one batch."""
        if self.values is None:
            self.values = torch.full((self.size, *predicted.shape[1:]), -1, dtype=torch.long, device=self.device)
        self.values[index[counted].to(self.device)] = predicted[counted].to(self.device, torch.long)

    def gathered(self) -> torch.Tensor:
        """(N, ...) predictions of every rank (a collective call under DDP); nothing added gives -1s (N,)."""
        if self.values is None:
            return torch.full((self.size,), -1, dtype=torch.long, device=self.device)
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(self.values, op=dist.ReduceOp.MAX)
        return self.values


@torch.no_grad()
def predict_loader(module: torch.nn.Module, loader: DataLoader, size: int, description: str) -> torch.Tensor:
    """Run `module.predict(batch)` over every batch of `loader`; (N, ...) int64 on the CPU.

    Under DDP every rank must call this: each predicts the batches of its shard (the loader's
    sampler shards them) and every rank gets every prediction.
    """
    module.eval()
    predictions = IndexedPredictions(size, module.device)
    for batch in tqdm(loader, desc=description, unit="batch", leave=False, disable=distributed_rank_and_size()[0] > 0):
        batch = {key: value.to(module.device) for key, value in batch.items()}
        predictions.add(batch["index"], batch["counted"], module.predict(batch))
    return predictions.gathered().cpu()
