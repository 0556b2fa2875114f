"""The core's TaskModule, on the counting task defined outside the package: NaN guard and learning-rate schedules."""

import math

import pytest
import torch
from counting_task import CountingTask

from conftest import REPO, vqa_config, vqa_module
from vlkit.core.config import load_config
from vlkit.core.errors import VlkitError


def counting_module(*overrides):
    task = CountingTask()
    config = load_config(task, None, list(overrides))
    return task.build_module(config, [str(count) for count in range(9)], fresh=True)


def test_nan_loss_stops_training_with_a_recovery_hint_naming_the_task():
    module = counting_module()
    module.model.forward = lambda batch: {"logits": torch.full((2, 9), math.nan)}
    batch = {"bits": torch.zeros(2, 8), "label": torch.tensor([0, 1]), "index": torch.tensor([0, 1])}
    with pytest.raises(VlkitError, match="loss became nan.*vlkit counting train --resume"):
        module.training_step(batch, 0)


def test_step_decay_schedule_from_the_config():
    module = counting_module("optim.lr_decay_epochs=[2,4]", "optim.lr_decay_factor=0.5")
    setup = module.configure_optimizers()
    schedule = setup["lr_scheduler"]["scheduler"]
    rates = []
    for _ in range(5):
        rates.append(setup["optimizer"].param_groups[0]["lr"])
        setup["optimizer"].step()
        schedule.step()
    assert rates == pytest.approx([1e-3, 1e-3, 5e-4, 5e-4, 2.5e-4])


def test_halving_every_n_steps_excludes_epoch_schedules():
    module = counting_module("optim.lr_halflife_steps=100")
    scheduler = module.configure_optimizers()["lr_scheduler"]
    assert scheduler["interval"] == "step"
    assert scheduler["scheduler"].lr_lambdas[0](300) == pytest.approx(0.125)
    with pytest.raises(VlkitError, match="optim.lr_halflife_steps=100: must be null when lr_warmup_epochs"):
        counting_module("optim.lr_halflife_steps=100", "optim.lr_warmup_epochs=1")


def test_mcan_schedule_warm_up_then_decay():
    tiny = ["model.hidden_size=16", "model.flat_mlp_size=8", "model.flat_out_size=16", "model.heads=2",
            "model.layers=1", "model.feature_dim=8", "model.embed_dim=8"]
    config = vqa_config(*tiny, config_file=REPO / "configs/vqa/mcan_small_vqa2.yaml")
    module = vqa_module(config, vocab_size=10, num_answers=13)
    setup = module.configure_optimizers()
    optimizer, schedule = setup["optimizer"], setup["lr_scheduler"]["scheduler"]
    assert optimizer.defaults["betas"] == (0.9, 0.98) and optimizer.defaults["eps"] == 1e-9
    rates = []
    for _ in range(13):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    expected = [0.25, 0.5, 0.75] + [1.0] * 7 + [0.2, 0.2, 0.04]  # MCAN: warm-up over 3 epochs, x0.2 at 10 and 12
    assert rates == pytest.approx([1e-4 * f for f in expected])


def test_adam_is_the_fused_kernel_and_updates_as_the_adam_formula():
    module = counting_module("optim.lr=0.1", "optim.betas=[0.5,0.75]", "optim.eps=1e-8")
    optimizer = module.configure_optimizers()
    assert optimizer.defaults["fused"] is True
    weight = next(module.parameters())
    before = weight.detach().clone()
    weight.grad = torch.full_like(weight, 2.0)
    optimizer.step()
    # first Adam step: m = (1 - 0.5) g, v = (1 - 0.75) g^2; bias-corrected m / sqrt(v) = g / |g| = 1
    torch.testing.assert_close(weight.detach(), before - 0.1 * 1.0 / (1 + 1e-8))
