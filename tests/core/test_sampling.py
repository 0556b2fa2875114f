from unittest import mock

import numpy as np

from vlkit.core.sampling import GroupedOrder, ShardedBatchSampler


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
        with mock.patch("vlkit.core.sampling.distributed_rank_and_size", return_value=(rank, 2)):
            sampler = ShardedBatchSampler(GroupedOrder(group_of_item, True, 0), batch_size=10, drop_last=True)
            shards.append(list(sampler))
            assert len(sampler) == len(shards[-1]) == 10
    assert len(single) == 10 and all(len(b) == 20 for b in single)
    for step, batch in enumerate(single):
        assert batch == shards[0][step] + shards[1][step]


def test_sharded_evaluation_counts_every_item_once_with_equal_steps_per_rank():
    group_of_item = groups_of(11, 3)  # 33 items -> 9 batches of 4 -> 3 ranks x 3 steps
    counted, padding = [], []
    for rank in range(4):  # 9 batches over 4 ranks: ranks 1-3 get one padding batch
        with mock.patch("vlkit.core.sampling.distributed_rank_and_size", return_value=(rank, 4)):
            sampler = ShardedBatchSampler(GroupedOrder(group_of_item, False), batch_size=4, drop_last=False)
            batches = list(sampler)
            assert len(sampler) == len(batches) == 3
            counted += [i for b in batches for i in b if i >= 0]
            padding += [b for b in batches if all(i < 0 for i in b)]
    assert sorted(counted) == list(range(33))
    assert len(padding) == 3


def test_collate_marks_padding_questions_as_not_counted():
    import torch

    from vlkit.vqa.data.easyvqa_module import QuestionDataset, QuestionSet

    data = QuestionSet(images=torch.zeros(2, 3, 4, 4, dtype=torch.uint8), image_ids=[7, 9],
                       image_row=torch.tensor([0, 1, 1]), tokens=torch.ones(3, 2, dtype=torch.long),
                       lengths=torch.full((3,), 2), answers=torch.tensor([0, 1, 2]),
                       answer_types=torch.zeros(3, dtype=torch.long), questions=["a", "b", "c"])
    batch = QuestionDataset(data).collate([2, -1 - 0])
    assert batch["index"].tolist() == [2, 0] and batch["counted"].tolist() == [True, False]
    assert batch["images"].shape[0] == 2 and batch["image_index"].tolist() == [1, 0]
