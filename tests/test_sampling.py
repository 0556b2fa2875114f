from unittest import mock

import numpy as np

from vlkit.sampling import GroupedOrder, ShardedBatchSampler


def groups_of(n_groups: int, per_group: int) -> np.ndarray:
    return np.repeat(np.arange(n_groups), per_group)[np.random.default_rng(1).permutation(n_groups * per_group)]


def test_grouped_order_visits_every_item_once_with_groups_contiguous():
    group_of_item = groups_of(20, 5)
    order = GroupedOrder(group_of_item, shuffle=True, seed=3)
    items = list(order)
    assert sorted(items) == list(range(100))
    runs = [g for i, g in enumerate(group_of_item[items]) if i == 0 or g != group_of_item[items[i - 1]]]
    assert len(runs) == 20  # each group appears as one contiguous run
    order.set_epoch(1)
    assert list(order) != items  # a new order each epoch
    order.set_epoch(0)
    assert list(order) == items  # and the same order for the same epoch


def test_sharded_training_batches_partition_the_single_process_batches():
    group_of_item = groups_of(30, 7)  # 210 items
    single = list(ShardedBatchSampler(GroupedOrder(group_of_item, True, 0), batch_size=20, drop_last=True))
    shards = []
    for rank in range(2):
        with mock.patch("vlkit.sampling.distributed_rank_and_size", return_value=(rank, 2)):
            sampler = ShardedBatchSampler(GroupedOrder(group_of_item, True, 0), batch_size=10, drop_last=True)
            shards.append(list(sampler))
            assert len(sampler) == len(shards[-1]) == 10
    assert len(single) == 10 and all(len(b) == 20 for b in single)
    for step, batch in enumerate(single):
        assert batch == shards[0][step] + shards[1][step]


def test_sharded_evaluation_covers_every_item_exactly_once():
    group_of_item = groups_of(11, 3)  # 33 items
    seen = []
    for rank in range(3):
        with mock.patch("vlkit.sampling.distributed_rank_and_size", return_value=(rank, 3)):
            sampler = ShardedBatchSampler(GroupedOrder(group_of_item, False), batch_size=4, drop_last=False)
            batches = list(sampler)
            assert len(sampler) == len(batches)
            seen += [i for b in batches for i in b]
    assert sorted(seen) == list(range(33))
