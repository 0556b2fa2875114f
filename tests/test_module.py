import math
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from vlkit.config import load_config
from vlkit.errors import VlkitError
from vlkit.vqa.module import VQAModule

REPO = Path(__file__).resolve().parents[1]


def small_batch():
    return {"images": torch.zeros(1, 3, 64, 64, dtype=torch.uint8), "image_index": torch.zeros(2, dtype=torch.long),
            "tokens": torch.tensor([[2, 3], [4, 0]]), "lengths": torch.tensor([2, 1]), "answers": torch.tensor([0, 1])}


def test_nan_loss_stops_training_with_a_recovery_hint():
    module = VQAModule(OmegaConf.to_container(load_config()), vocab_size=10, num_answers=13)
    module.model.forward = lambda batch: {"logits": torch.full((2, 13), math.nan)}
    with pytest.raises(VlkitError, match="loss became nan.*--resume"):
        module.training_step(small_batch(), 0)


def test_training_loss_is_cross_entropy_on_the_answer_index():
    module = VQAModule(OmegaConf.to_container(load_config()), vocab_size=10, num_answers=13)
    logits = torch.zeros(2, 13)
    logits[0, 0] = math.log(12.0)  # p(answer 0) = 12 / (12 + 12) = 0.5 for the first question
    module.model.forward = lambda batch: {"logits": logits}
    loss = module.training_step(small_batch(), 0)
    expected = (-math.log(0.5) - math.log(1 / 13)) / 2  # second question: uniform, p(answer 1) = 1 / 13
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_step_decay_schedule_from_the_config():
    config = load_config(overrides=["optim.lr_decay_epochs=[2,4]", "optim.lr_decay_factor=0.5"])
    module = VQAModule(OmegaConf.to_container(config), vocab_size=10, num_answers=13)
    setup = module.configure_optimizers()
    schedule = setup["lr_scheduler"]["scheduler"]
    rates = []
    for _ in range(5):
        rates.append(setup["optimizer"].param_groups[0]["lr"])
        setup["optimizer"].step()
        schedule.step()
    assert rates == pytest.approx([1e-3, 1e-3, 5e-4, 5e-4, 2.5e-4])


def test_mcan_schedule_warm_up_then_decay():
    config = load_config(REPO / "configs/vqa/mcan_small_vqa2.yaml")
    module = VQAModule(OmegaConf.to_container(config), vocab_size=10, num_answers=13)
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
