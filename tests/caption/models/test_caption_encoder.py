"""The captioning image encoder: which ResNet stages train, frozen BatchNorm stays in eval, weights from the hub
cache or a file (and a clear error without them), small-CNN grids, config checks."""

import pytest
import torch
from torch import nn
from torchvision import models

from vlkit.caption.models.encoders import EncoderConfig, build_encoder, torchvision_weights_file
from vlkit.core.errors import InvalidValue, VlkitError

RESNET18 = dict(backbone="resnet18", weights="none")


def images(count: int = 2, size: int = 64) -> torch.Tensor:
    return torch.randint(0, 256, (count, 3, size, size), generator=torch.Generator().manual_seed(0),
                         dtype=torch.uint8)


def batch_norms(module: nn.Module) -> list[nn.BatchNorm2d]:
    return [m for m in module.modules() if isinstance(m, nn.BatchNorm2d)]


@pytest.mark.parametrize("fine_tune_from, trained_children", [(1, [4, 5, 6, 7]), (2, [5, 6, 7]), (4, [7])])
def test_fine_tune_from_trains_exactly_the_resnet_stages_from_it(fine_tune_from, trained_children):
    encoder = build_encoder(EncoderConfig(**RESNET18, fine_tune=True, fine_tune_from=fine_tune_from), 2, False)
    trained = {id(p) for p in encoder.trained_parameters()}
    expected = {id(p) for index in trained_children for p in encoder.resnet[index].parameters()}
    assert trained == expected
    assert all(p.requires_grad == (id(p) in expected) for p in encoder.parameters())


def test_fine_tune_from_2_is_the_tutorials_children_5_on():
    encoder = build_encoder(EncoderConfig(**RESNET18, fine_tune=True), 2, False)
    names = {name.split(".")[0] for name, p in encoder.resnet.named_parameters() if p.requires_grad}
    assert names == {"5", "6", "7"}
    assert [type(child).__name__ for child in encoder.resnet][4:] == ["Sequential"] * 4  # layer1..layer4


def test_frozen_encoder_trains_nothing_and_gives_no_autograd_graph():
    encoder = build_encoder(EncoderConfig(**RESNET18), 2, False).train()
    assert encoder.trained_parameters() == []
    assert not encoder(images()).requires_grad
    assert all(not bn.training for bn in batch_norms(encoder))


def test_frozen_batchnorm_stays_in_eval_under_train_and_keeps_its_statistics():
    encoder = build_encoder(EncoderConfig(**RESNET18, fine_tune=True, fine_tune_from=3), 2, False).train()
    frozen, trained = batch_norms(encoder.resnet[:6]), batch_norms(encoder.resnet[6:])
    assert all(not bn.training for bn in frozen) and all(bn.training for bn in trained)
    before = [bn.running_mean.clone() for bn in frozen + trained]
    encoder(images()).sum().backward()
    after = [bn.running_mean for bn in frozen + trained]
    assert all(torch.equal(b, a) for b, a in zip(before[:len(frozen)], after[:len(frozen)]))
    assert not any(torch.equal(b, a) for b, a in zip(before[len(frozen):], after[len(frozen):]))
    assert encoder.resnet[5].training is False and encoder.eval().resnet[6].training is False


@pytest.mark.parametrize("fine_tune", [False, True])
def test_frozen_stages_run_without_autograd_and_trained_stages_with_it(fine_tune):
    encoder = build_encoder(EncoderConfig(**RESNET18, fine_tune=fine_tune), 2, False).train()
    grad_enabled = {}
    for index in (4, 5):  # layer1 (frozen either way), layer2 (trained when fine-tuning)
        encoder.resnet[index].register_forward_hook(
            lambda *_, index=index: grad_enabled.__setitem__(index, torch.is_grad_enabled()))
    encoder(images())
    assert grad_enabled == {4: False, 5: fine_tune}


def test_fine_tuning_backpropagates_into_trained_stages_only():
    encoder = build_encoder(EncoderConfig(**RESNET18, fine_tune=True), 2, False).train()
    encoder(images()).sum().backward()
    assert all(p.grad is not None for p in encoder.trained_parameters())
    assert all(p.grad is None for p in encoder.resnet[:5].parameters())


def test_resnet_output_is_normalised_pixels_through_the_resnet_then_pooled():
    torch.manual_seed(0)
    encoder = build_encoder(EncoderConfig(**RESNET18), 3, False).eval()
    batch = images()
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        grid = nn.functional.adaptive_avg_pool2d(encoder.resnet((batch / 255 - mean) / std), 3)  # (B, 512, 3, 3)
        out = encoder(batch)
    assert out.shape == (2, 9, 512) and encoder.out_dim == 512 and encoder.grid_size == 3
    torch.testing.assert_close(out, grid.permute(0, 2, 3, 1).reshape(2, 9, 512), rtol=0, atol=1e-6)


def saved_resnet18(path, wrap: bool = False) -> nn.Module:
    torch.manual_seed(1)
    resnet = models.resnet18(weights=None)
    torch.save({"state_dict": resnet.state_dict()} if wrap else resnet.state_dict(), path)
    return resnet


@pytest.mark.parametrize("wrap", [False, True])
def test_weights_path_loads_a_saved_resnet18_state_dict(tmp_path, wrap):
    resnet = saved_resnet18(tmp_path / "r18.pth", wrap)
    encoder = build_encoder(EncoderConfig(backbone="resnet18", weights=str(tmp_path / "r18.pth")), 2, True)
    torch.testing.assert_close(encoder.resnet[0].weight, resnet.conv1.weight, rtol=0, atol=0)
    torch.testing.assert_close(encoder.resnet[7][1].bn2.running_var, resnet.layer4[1].bn2.running_var, rtol=0, atol=0)


def test_torchvision_weights_come_from_the_hub_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path))
    (tmp_path / "checkpoints").mkdir()
    resnet = saved_resnet18(tmp_path / "checkpoints" / "resnet18-f37072fd.pth")
    encoder = build_encoder(EncoderConfig(backbone="resnet18", weights="torchvision"), 2, True)
    torch.testing.assert_close(encoder.resnet[4][0].conv1.weight, resnet.layer1[0].conv1.weight, rtol=0, atol=0)


def test_missing_torchvision_weights_name_the_file_and_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path))
    expected = tmp_path / "checkpoints" / "resnet101-63fe2227.pth"
    assert torchvision_weights_file("resnet101") == expected
    with pytest.raises(VlkitError) as error:
        build_encoder(EncoderConfig(backbone="resnet101", weights="torchvision"), 14, True)
    assert str(expected) in str(error.value) and "resnet101-63fe2227.pth there" in str(error.value)


def test_pretrained_false_reads_no_file(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path))
    build_encoder(EncoderConfig(backbone="resnet18"), 2, False)
    build_encoder(EncoderConfig(backbone="resnet18", weights=str(tmp_path / "absent.pth")), 2, False)


def test_a_file_that_is_not_the_backbones_state_dict_is_a_vlkit_error(tmp_path):
    torch.save(models.resnet18(weights=None).state_dict(), tmp_path / "r18.pth")
    with pytest.raises(VlkitError, match="not a resnet50 state dict"):
        build_encoder(EncoderConfig(backbone="resnet50", weights=str(tmp_path / "r18.pth")), 2, True)
    (tmp_path / "text.pth").write_text("not a checkpoint")
    with pytest.raises(VlkitError, match="not a resnet18 state dict"):
        build_encoder(EncoderConfig(backbone="resnet18", weights=str(tmp_path / "text.pth")), 2, True)
    with pytest.raises(VlkitError, match="no such file"):
        build_encoder(EncoderConfig(backbone="resnet18", weights=str(tmp_path / "absent.pth")), 2, True)


@pytest.mark.parametrize("grid", [1, 2, 4])
def test_small_cnn_gives_grid_rows_of_its_last_width_and_trains_end_to_end(grid):
    encoder = build_encoder(EncoderConfig(backbone="small_cnn", small_cnn_channels=[8, 16]), grid, True)
    out = encoder(images(3, 32))
    assert out.shape == (3, grid * grid, 16) and encoder.out_dim == 16
    assert len(encoder.trained_parameters()) == len(list(encoder.parameters())) > 0 and out.requires_grad


@pytest.mark.parametrize("bad", [dict(backbone="vgg16"), dict(fine_tune_from=0), dict(fine_tune_from=5),
                                 dict(fine_tune_from=True), dict(lr=0), dict(small_cnn_channels=[]), dict(small_cnn_channels=[8, 12]),
                                 dict(weights=""), dict(backbone="small_cnn", weights="cnn.pth"),
                                 dict(fine_tune="yes")])
def test_bad_encoder_values_are_refused_naming_the_key(bad):
    with pytest.raises(InvalidValue, match=next(iter(bad)) if "weights" not in bad else "weights"):
        EncoderConfig(**bad)
