from unittest import mock

import numpy as np

from vlkit.core.sampling import GroupedOrder, LoaderOptions, PositionDataset, ShardedBatchSampler, grouped_loader


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


class Positions(PositionDataset):
    def __init__(self, count: int):
        self.data = list(range(count))

    def collate(self, positions: list[int]) -> list[int]:
        return positions


def epoch_batches(epoch: int) -> list[list[int]]:
    loader = grouped_loader(Positions(12), np.arange(12), LoaderOptions(batch_size=3), seed=0, training=True)
    loader.batch_sampler.sampler.set_epoch(epoch)
    return list(loader)


def resumed_batches(state: dict) -> list[list[int]]:
    loader = grouped_loader(Positions(12), np.arange(12), LoaderOptions(batch_size=3), seed=0, training=True)
    loader.load_state_dict(state)
    return list(loader)


def test_a_training_loader_saved_mid_epoch_goes_on_with_the_next_batch_of_that_epochs_order():
    assert epoch_batches(3) != epoch_batches(4)  # four batches of 3 items, a new order each epoch
    assert resumed_batches({"epoch": 3, "batches_done": 1, "batches_in_epoch": 4}) == epoch_batches(3)[1:]


def test_a_training_loader_saved_at_an_epochs_end_starts_the_next_epochs_order():
    assert resumed_batches({"epoch": 3, "batches_done": 4, "batches_in_epoch": 4}) == epoch_batches(4)


def test_a_training_loader_resumed_with_another_batching_restarts_the_epoch():
    assert resumed_batches({"epoch": 3, "batches_done": 2, "batches_in_epoch": 6}) == epoch_batches(3)


def test_a_training_loader_state_counts_the_batches_the_loop_finished():
    loader = grouped_loader(Positions(12), np.arange(12), LoaderOptions(batch_size=3), seed=0, training=True)
    loader.load_state_dict({"epoch": 2, "batches_done": 1, "batches_in_epoch": 4})
    iterator = iter(loader)
    next(iterator)
    loader.batches_done += 1  # what the engine does when the training loop finishes a batch
    assert loader.state_dict() == {"epoch": 2, "batches_done": 2, "batches_in_epoch": 4}
