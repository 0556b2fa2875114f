"""The captioning module: packed targets, the doubly stochastic penalty and the loss by hand; optimiser groups;
the validation metric the decoding section names."""

from __future__ import annotations

import math

import pytest
import torch

from vlkit.caption.data.word_map import WordMap
from vlkit.caption.module import attention_regularisation, caption_targets
from vlkit.caption.run_files import CaptionVocabularies
from vlkit.caption.task import CaptionTask
from vlkit.core.config import load_config

TINY = ["model.embed_dim=8", "model.attention_dim=8", "model.decoder_dim=8", "model.grid_size=2",
        "encoder.small_cnn_channels=[8,8]"]


def module_of(*overrides: str):
    task = CaptionTask()
    config = load_config(task, None, [*TINY, *overrides])
    return task.build_module(config, CaptionVocabularies(WordMap.from_words(["a", "b", "c"]), 16), fresh=True)


def test_targets_are_the_next_words_up_to_end():
    captions = torch.tensor([[5, 1, 2, 6, 0], [5, 3, 6, 0, 0]])  # <start>=5, <end>=6
    targets, valid = caption_targets(captions, torch.tensor([4, 3]), steps=3)
    assert targets.tolist() == [[1, 2, 6], [3, 6, 0]]
    assert valid.tolist() == [[True, True, True], [True, True, False]]


def test_doubly_stochastic_penalty_by_hand():
    attention = torch.tensor([[[0.5, 0.5], [0.9, 0.1]]])  # one caption, two steps, two regions
    # both steps valid: region sums 1.4 and 0.6 -> ((1 - 1.4)^2 + (1 - 0.6)^2) / 2 = 0.16
    assert float(attention_regularisation(attention, torch.tensor([[True, True]]))) == pytest.approx(0.16)
    # the second step is past the caption's end: sums 0.5 and 0.5 -> 0.25
    assert float(attention_regularisation(attention, torch.tensor([[True, False]]))) == pytest.approx(0.25)


def test_loss_is_word_cross_entropy_plus_alpha_c_times_the_penalty():
    module = module_of("model.alpha_c=2.0")
    captions = torch.tensor([[5, 1, 6, 0], [5, 2, 3, 6]])
    lengths = torch.tensor([3, 4])
    logits = torch.zeros(2, 3, 7)
    logits[0, 0, 1] = math.log(3.0)  # p(word 1) = 3 / (3 + 6) = 1/3 at the first step of the first caption
    attention = torch.full((2, 3, 2), 0.5)
    batch = {"captions": captions, "lengths": lengths, "index": torch.arange(2)}
    loss = module.loss(batch, {"logits": logits, "attention": attention})
    words = [math.log(3.0)] + [math.log(7.0)] * 4  # 5 packed words: one at 1/3, four at 1/7
    # penalty: caption 1 sums 0.5 x 2 valid steps = 1.0 per region -> 0; caption 2 sums 1.5 -> 0.25; mean 0.125
    assert float(loss) == pytest.approx(sum(words) / 5 + 2.0 * 0.125, rel=1e-6)


def test_a_small_cnn_trains_at_the_encoder_learning_rate_and_the_decoder_at_optim_lr():
    module = module_of("encoder.lr=0.01", "optim.lr=0.002")
    groups = module.parameter_groups()
    encoder = {id(p) for p in module.model.encoder.parameters()}
    assert len(groups) == 2 and groups[1]["lr"] == 0.01
    assert {id(p) for p in groups[1]["params"]} == encoder
    assert not encoder & {id(p) for p in groups[0]["params"]}
    optimizer = module.configure_optimizers()
    assert [group["lr"] for group in optimizer.param_groups] == [0.002, 0.01]


def test_a_frozen_resnet_has_no_encoder_group():
    module = module_of("encoder.backbone=resnet18", "encoder.weights=none")
    groups = module.parameter_groups()
    assert len(groups) == 1
    assert not {id(p) for p in module.model.encoder.parameters()} & {id(p) for p in groups[0]["params"]}


def test_validation_logs_the_metric_the_decoding_section_names():
    report = {"CIDEr": 0.8, "Bleu_4": 0.3, "Bleu_1": 0.7, "ROUGE_L": 0.5, "tutorial_bleu4": 0.29}
    assert module_of().validation_metrics(report)["val/score"] == 0.8
    metrics = module_of("decoding.val_metric=Bleu_4").validation_metrics(report)
    assert metrics["val/score"] == 0.3 and metrics["val/CIDEr"] == 0.8
