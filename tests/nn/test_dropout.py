"""vlkit's Dropout: nn.Dropout's distribution and scaling, with p = 0.5 CPU masks made from random bits."""

import math

import torch

from vlkit.nn.dropout import Dropout, half_keep_mask


def test_half_keep_mask_keeps_each_bit_position_and_neighbour_pair_with_the_right_frequency():
    torch.manual_seed(0)
    mask = half_keep_mask(torch.Size([64 * 20000]), torch.device("cpu")).view(-1, 64).double()
    # each of the 64 bit positions of a draw is kept with probability 1/2: 20,000 samples each, so the
    # frequency's standard deviation is sqrt(0.25 / 20000) = 0.0035; 5 deviations allow 0.018
    assert (mask.mean(0) - 0.5).abs().max() < 5 * math.sqrt(0.25 / 20000)
    # neighbours are independent: both kept a quarter of the time (sd sqrt(0.1875 / 1.26e6) = 0.0004)
    both = (mask.flatten()[1:] * mask.flatten()[:-1]).mean()
    assert abs(both - 0.25) < 5 * math.sqrt(0.1875 / mask.numel())


def test_half_keep_mask_is_repeatable_from_the_seed_and_covers_sizes_not_divisible_by_64():
    torch.manual_seed(3)
    first = half_keep_mask(torch.Size([5, 7, 3]), torch.device("cpu"))
    torch.manual_seed(3)
    second = half_keep_mask(torch.Size([5, 7, 3]), torch.device("cpu"))
    assert first.shape == (5, 7, 3) and torch.equal(first, second)
    assert set(first.unique().tolist()) == {0, 1}


def test_half_dropout_doubles_the_kept_elements_and_zeroes_the_rest():
    torch.manual_seed(0)
    x = torch.rand(50, 300) + 0.5
    out = Dropout(0.5).train()(x)
    kept = out != 0
    torch.testing.assert_close(out[kept], 2 * x[kept], rtol=0, atol=0)
    assert abs(kept.double().mean().item() - 0.5) < 0.02


def test_half_dropout_passes_gradients_only_through_kept_elements():
    torch.manual_seed(0)
    x = torch.rand(40, 30, requires_grad=True)
    out = Dropout(0.5).train()(x)
    out.sum().backward()
    torch.testing.assert_close(x.grad, (out != 0).float() * 2)


def test_dropout_is_the_identity_in_eval_mode_and_nn_dropout_for_other_rates():
    x = torch.rand(20, 30)
    assert torch.equal(Dropout(0.5).eval()(x), x)
    torch.manual_seed(1)
    ours = Dropout(0.1).train()(x)
    torch.manual_seed(1)
    assert torch.equal(ours, torch.nn.Dropout(0.1).train()(x))
