"""Samplers that keep the items of one group together and shard batches across DDP ranks; loader options.

Grouping items by image lets a batch encode each distinct image once (easy-VQA has ~9.6 questions
per image, so a CNN trained end to end does ~10x less work per epoch). Sharding is done here rather
than by a `DistributedSampler`, so that N processes with batch B see exactly the items that one
process with batch N x B sees, in the same order.

The batch contract of the core: a task's collate function gets the positions of one batch
(`PositionDataset`) and returns a dict holding at least `index` (B,) int64, each item's position
in its split, and `counted` (B,) bool (`unpack_positions` makes both).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset, Sampler

from vlkit.core.validation import check_non_negative, check_positive_int

log = logging.getLogger("vlkit")


@dataclass
class LoaderOptions:
    """Batch and loader settings shared by every task's data section."""

    batch_size: int = 64  # per device; the global batch is batch_size x devices x accumulation
    eval_batch_size: int = 256
    num_workers: int = 0
    group_by_image: bool = True  # batch the items of one image together: each image encoded once

    def __post_init__(self) -> None:
        check_positive_int(self, "batch_size", "eval_batch_size")
        check_non_negative(self, "num_workers")


def distributed_rank_and_size() -> tuple[int, int]:
    """(rank, world size) of the default process group, (0, 1) when not distributed."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class GroupedOrder(Sampler[int]):
    """Item indices ordered group by group (e.g. all questions of one image together).

    With `shuffle`, the order of the groups and of the items inside each group is drawn anew each
    epoch from `seed + epoch`; every process draws the same order.
    """

    def __init__(self, group_of_item: Sequence[int] | np.ndarray, shuffle: bool, seed: int = 0):
        self.group_of_item = np.asarray(group_of_item)
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0
        order = np.argsort(self.group_of_item, kind="stable")
        boundaries = np.flatnonzero(np.diff(self.group_of_item[order])) + 1
        self.groups = np.split(order, boundaries)

    def set_epoch(self, epoch: int) -> None:
        """Called by Lightning at the start of every epoch."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.group_of_item)

    def __iter__(self) -> Iterator[int]:
        if not self.shuffle:
            yield from np.concatenate(self.groups).tolist()
            return
        rng = np.random.default_rng(self.seed + self.epoch)
        for group_position in rng.permutation(len(self.groups)):
            yield from rng.permutation(self.groups[group_position]).tolist()


class ShardedBatchSampler(Sampler[list[int]]):
    """Batches of `batch_size` items per process from an item order, split across DDP ranks.

    Training (`drop_last=True`): the order is cut into global batches of batch_size x world_size
    items, an incomplete last one dropped, and rank r takes the r-th slice of each, so every rank
    runs the same number of equal-sized steps. Evaluation (`drop_last=False`): the order is cut
    into batches of `batch_size` and rank r takes batches r, r + world_size, ...; a rank left one
    batch short gets a padding batch of negated indices (-1 - i for item i), which the collate
    function marks as not counted. So every rank runs the same number of steps (DDP forwards are
    collective) and every item is counted exactly once across ranks.
    """

    def __init__(self, sampler: GroupedOrder, batch_size: int, drop_last: bool):
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.skip = 0  # batches of the next pass already trained on (a run resumed mid-epoch)

    def _batches(self) -> list[list[int]]:
        rank, world_size = distributed_rank_and_size()
        order = list(self.sampler)
        if self.drop_last:
            global_size = self.batch_size * world_size
            usable = len(order) - len(order) % global_size
            start = rank * self.batch_size
            return [order[g + start: g + start + self.batch_size] for g in range(0, usable, global_size)]
        batches = [order[i: i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        mine = batches[rank::world_size]
        padding = [-1 - i for i in batches[0]] if batches else []
        return mine + [padding] * (len(self) - len(mine))

    def __len__(self) -> int:
        _, world_size = distributed_rank_and_size()
        total = len(self.sampler)
        if self.drop_last:
            return total // (self.batch_size * world_size)
        batches = -(-total // self.batch_size)
        return -(-batches // world_size)

    def __iter__(self) -> Iterator[list[int]]:
        skip, self.skip = self.skip, 0
        yield from self._batches()[skip:]


class ResumableLoader(DataLoader):
    """The training DataLoader, whose place in the epoch goes into checkpoints.

    Lightning saves `state_dict()` of a training loader that has one in every checkpoint and hands
    it back to `load_state_dict` before the loader is iterated on resume. The state is the epoch of
    the item order and the batches finished in it (`batches_done`, counted by the engine as the
    training loop finishes each batch), so a run saved mid-epoch continues with the next batch of
    the same order, and one saved at an epoch's end starts the next epoch's order.
    """

    def __init__(self, dataset: Dataset, batch_sampler: ShardedBatchSampler, **options):
        super().__init__(dataset, batch_sampler=batch_sampler, **options)
        self.batches_done = 0

    def __iter__(self) -> Iterator:
        self.batches_done = self.batch_sampler.skip
        return super().__iter__()

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.batch_sampler.sampler.epoch, "batches_done": self.batches_done,
                "batches_in_epoch": len(self.batch_sampler)}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Set the order and the batches to skip; a run resumed with another batching (batch size, devices)
        mid-epoch starts that epoch's order from its first batch."""
        epoch, done, in_epoch = int(state["epoch"]), int(state["batches_done"]), int(state["batches_in_epoch"])
        if done >= in_epoch:
            epoch, done = epoch + 1, 0
        elif in_epoch != len(self.batch_sampler):
            log.warning("the checkpoint was saved after %d of %d batches of epoch %d; with the new batching "
                        "(%d batches) that epoch starts again from its first batch", done, in_epoch, epoch,
                        len(self.batch_sampler))
            done = 0
        self.batch_sampler.sampler.set_epoch(epoch)
        self.batch_sampler.skip = done


def batch_size(batch: dict) -> int:
    """Number of items in a batch dict of the core's batch contract (see the module docstring)."""
    return len(batch["index"])


def unpack_positions(positions: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """A ShardedBatchSampler batch -> (index (B,) int64, counted (B,) bool); -1 - i is item i, not counted."""
    signed = torch.as_tensor(positions, dtype=torch.long)
    counted = signed >= 0
    return torch.where(counted, signed, -1 - signed), counted


class PositionDataset(Dataset):
    """A dataset whose items are their positions; subclasses build whole batches in `collate(positions)`."""

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, position: int) -> int:
        return position

    collate: Callable[[list[int]], dict]


def grouped_loader(dataset: PositionDataset, groups: np.ndarray, options: LoaderOptions, seed: int,
                   training: bool) -> DataLoader:
    """DataLoader of `dataset` with items of one group (image) together, sharded over DDP ranks.

    Training: shuffled anew each epoch, `batch_size` per device, resumable mid-epoch
    (`ResumableLoader`); otherwise fixed order, `eval_batch_size`. `group_by_image=False` makes
    every item its own group.
    """
    order = GroupedOrder(groups if options.group_by_image else np.arange(len(dataset)), training, seed)
    size = options.batch_size if training else options.eval_batch_size
    loader_class = ResumableLoader if training else DataLoader
    return loader_class(dataset, batch_sampler=ShardedBatchSampler(order, size, drop_last=training),
                        collate_fn=dataset.collate, num_workers=options.num_workers,
                        persistent_workers=options.num_workers > 0)
