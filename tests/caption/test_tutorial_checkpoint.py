"""Reading the captioning tutorial's whole-module checkpoints without running code from them."""

from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path

import pytest
import torch
from tutorial_checkpoint_fixture import TutorialModules, write_tutorial_checkpoint

from vlkit.caption.checkpoint_import import read_tutorial_checkpoint
from vlkit.caption.restricted_unpickler import PickledObject, UnsafeCheckpointError, load_restricted
from vlkit.core.errors import VlkitError

FORMATS = {"zip": {}, "legacy": {"legacy_format": True}, "torch04": {"torch04": True}}


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> dict[str, tuple[Path, TutorialModules]]:
    """The default fixture checkpoint in the zip format, the legacy format and as PyTorch 0.4 wrote it."""
    directory = tmp_path_factory.mktemp("tutorial")
    result = {}
    for name, options in FORMATS.items():
        path = directory / f"BEST_checkpoint_{name}.pth.tar"
        result[name] = (path, write_tutorial_checkpoint(path, **options))
    return result


def expected_state_dict(made: TutorialModules) -> dict[str, torch.Tensor]:
    return {**{f"encoder.{k}": v for k, v in made.encoder.state_dict().items()},
            **{f"decoder.{k}": v for k, v in made.decoder.state_dict().items()}}


def assert_same_state(actual: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> None:
    assert list(actual) == list(expected)
    for key, value in expected.items():
        assert type(actual[key]) is torch.Tensor, key
        assert actual[key].dtype == value.dtype and actual[key].shape == value.shape, key
        assert torch.equal(actual[key], value), key


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_state_dict_equals_the_real_modules(saved, fmt):
    path, made = saved[fmt]
    checkpoint = read_tutorial_checkpoint(path)
    expected = expected_state_dict(made)
    assert_same_state(checkpoint.state_dict, expected)
    # BatchNorm statistics moved in the training step, so the buffers are really read
    assert int(checkpoint.state_dict["encoder.resnet.1.num_batches_tracked"]) == 1
    assert not torch.equal(checkpoint.state_dict["encoder.resnet.1.running_var"], torch.ones(64))
    assert "decoder.attention.encoder_att.weight" in checkpoint.state_dict
    assert not any(t.requires_grad for t in checkpoint.state_dict.values())


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_training_state_and_sizes(saved, fmt):
    checkpoint = read_tutorial_checkpoint(saved[fmt][0])
    assert (checkpoint.epoch, checkpoint.epochs_since_improvement, checkpoint.bleu4) == (7, 2, 0.2468)
    assert (checkpoint.vocab_size, checkpoint.embed_dim, checkpoint.attention_dim, checkpoint.decoder_dim,
            checkpoint.encoder_dim) == (23, 16, 12, 20, 512)
    assert checkpoint.encoded_image_size == 3
    assert checkpoint.encoder_backbone == "resnet18"
    assert checkpoint.fine_tuned_encoder and checkpoint.has_encoder_optimizer


def test_other_sizes_and_a_frozen_encoder(tmp_path):
    path = tmp_path / "frozen.pth.tar"
    made = write_tutorial_checkpoint(path, encoder_backbone="bottleneck_tiny", vocab_size=31, embed_dim=10,
                                     attention_dim=7, decoder_dim=9, encoded_image_size=5,
                                     fine_tune_encoder=False, epoch=0, bleu4=0.0312)
    checkpoint = read_tutorial_checkpoint(path)
    assert_same_state(checkpoint.state_dict, expected_state_dict(made))
    assert (checkpoint.vocab_size, checkpoint.embed_dim, checkpoint.attention_dim, checkpoint.decoder_dim,
            checkpoint.encoder_dim, checkpoint.encoded_image_size) == (31, 10, 7, 9, 2048, 5)
    assert (checkpoint.epoch, checkpoint.bleu4) == (0, 0.0312)
    assert "encoder.resnet.4.0.conv3.weight" in checkpoint.state_dict  # Bottleneck blocks
    assert checkpoint.encoder_backbone is None  # one block per stage is no torchvision ResNet
    assert not checkpoint.fine_tuned_encoder and not checkpoint.has_encoder_optimizer


@pytest.mark.parametrize("fmt, fine_tune", [("zip", True), ("torch04", False)])
def test_fine_tuning_comes_from_requires_grad_when_it_survives(tmp_path, fmt, fine_tune):
    """The pickled parameters' requires_grad wins over an encoder optimizer's presence."""
    path = tmp_path / "requires_grad.pth.tar"

    def mismatched_optimizer(made):
        return {"encoder_optimizer": None if fine_tune else made.decoder_optimizer}

    write_tutorial_checkpoint(path, fine_tune_encoder=fine_tune, extra_entries=mismatched_optimizer,
                              **FORMATS[fmt])
    checkpoint = read_tutorial_checkpoint(path)
    assert checkpoint.fine_tuned_encoder is fine_tune
    assert checkpoint.has_encoder_optimizer is not fine_tune


@pytest.mark.parametrize("with_optimizer", [True, False])
def test_state_dict_checkpoints_fall_back_to_the_encoder_optimizer(tmp_path, with_optimizer):
    """Forks of the tutorial save `encoder.state_dict()`: no requires_grad and no pool size survive."""
    path = tmp_path / "state_dicts.pth.tar"

    def as_state_dicts(made):
        return {"encoder": made.encoder.state_dict(), "decoder": made.decoder.state_dict(),
                "encoder_optimizer": made.encoder_optimizer if with_optimizer else None}

    made = write_tutorial_checkpoint(path, fine_tune_encoder=True, extra_entries=as_state_dicts)
    checkpoint = read_tutorial_checkpoint(path)
    assert_same_state(checkpoint.state_dict, expected_state_dict(made))
    assert checkpoint.fine_tuned_encoder is with_optimizer
    assert checkpoint.encoded_image_size is None and checkpoint.encoder_dim == 512


def test_non_persistent_buffers_are_left_out(tmp_path):
    path = tmp_path / "buffer.pth.tar"
    made = write_tutorial_checkpoint(path, nonpersistent_buffer=True)
    assert "pixel_scale" in dict(made.encoder.named_buffers())
    checkpoint = read_tutorial_checkpoint(path)
    assert "encoder.pixel_scale" not in checkpoint.state_dict
    assert_same_state(checkpoint.state_dict, expected_state_dict(made))


def test_the_tutorial_code_is_neither_needed_nor_run(saved):
    path, _ = saved["zip"]
    before = dict(sys.modules)
    loaded = load_restricted(path)
    assert sys.modules.keys() == before.keys()  # nothing imported, `models` included
    for part, name in (("encoder", "models.Encoder"), ("decoder", "models.DecoderWithAttention"),
                       ("decoder_optimizer", "torch.optim.adam.Adam")):
        assert isinstance(loaded[part], PickledObject) and loaded[part].pickled_class == name
        assert not isinstance(loaded[part], (torch.nn.Module, torch.optim.Optimizer))
    pool = loaded["encoder"].pickled_state["_modules"]["adaptive_pool"]
    assert pool.pickled_class == "torch.nn.modules.pooling.AdaptiveAvgPool2d"
    assert pool.pickled_state["output_size"] == (3, 3)

    with pytest.raises(pickle.UnpicklingError):  # what weights_only refuses
        torch.load(path, weights_only=True)
    try:  # and plain torch.load needs the tutorial's models.py (tests/caption/models is another `models`)
        with pytest.raises((ModuleNotFoundError, AttributeError), match="models|Encoder"):
            torch.load(path, weights_only=False)
    finally:
        if "models" not in before:
            sys.modules.pop("models", None)


class RunsAShellCommand:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class EvaluatesCode:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (eval, (f"open({str(self.marker)!r}, 'w').close()",))


def save_torch_zip(obj, path):
    torch.save(obj, path)


def save_torch_legacy(obj, path):
    torch.save(obj, path, _use_new_zipfile_serialization=False)


def save_plain_pickle(obj, path):
    path.write_bytes(pickle.dumps(obj, protocol=2))


@pytest.mark.parametrize("save", [save_torch_zip, save_torch_legacy, save_plain_pickle])
@pytest.mark.parametrize("evil, global_name", [(RunsAShellCommand, f"{os.system.__module__}.system"),
                                               (EvaluatesCode, "builtins.eval")])
def test_an_evil_pickle_is_refused_without_running(tmp_path, save, evil, global_name):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth.tar"
    save({"epoch": 3, "encoder": evil(marker), "decoder": None}, path)
    with pytest.raises(UnsafeCheckpointError, match=global_name.replace(".", r"\.")) as caught:
        read_tutorial_checkpoint(path)
    assert caught.value.global_name == global_name
    assert str(path) in str(caught.value)
    assert not marker.exists()


class TensorWithState:
    """A tensor followed by BUILD: unchecked, Tensor.__setstate__ would call `set_` with these values."""

    def __reduce__(self):
        rebuild, args = torch.zeros(2).__reduce_ex__(2)
        return (rebuild, args, (1, 2, 3, 4))


@pytest.mark.parametrize("save", [save_torch_zip, save_torch_legacy])
def test_a_tensor_cannot_have_its_state_set(tmp_path, save):
    path = tmp_path / "build.pth.tar"
    save({"encoder": TensorWithState()}, path)
    with pytest.raises(UnsafeCheckpointError, match="sets the state of an object of type Tensor"):
        load_restricted(path)


class TensorPastItsStorage:
    """A tensor whose size reaches past its storage: unchecked, set_ would grow the storage to fit."""

    def __reduce__(self):
        rebuild, (storage, offset, size, stride, *rest) = torch.zeros(4).__reduce_ex__(2)
        return (rebuild, (storage, 10**12, size, stride, *rest))


def test_a_tensor_past_its_storage_is_refused(tmp_path):
    path = tmp_path / "huge.pth.tar"
    save_torch_zip({"encoder": TensorPastItsStorage()}, path)
    with pytest.raises(UnsafeCheckpointError, match="reach past its storage of 4 elements"):
        load_restricted(path)


def test_a_disallowed_class_is_refused_by_name(tmp_path):
    path = tmp_path / "scheduler.pth.tar"

    def with_scheduler(made):
        return {"scheduler": torch.optim.lr_scheduler.StepLR(made.decoder_optimizer, step_size=8)}

    write_tutorial_checkpoint(path, extra_entries=with_scheduler)
    with pytest.raises(UnsafeCheckpointError, match=r"torch\.optim\.lr_scheduler\.StepLR") as caught:
        read_tutorial_checkpoint(path)
    assert caught.value.global_name == "torch.optim.lr_scheduler.StepLR"


def test_a_missing_file(tmp_path):
    with pytest.raises(VlkitError, match="checkpoint not found"):
        read_tutorial_checkpoint(tmp_path / "BEST_checkpoint.pth.tar")


@pytest.mark.parametrize("content", [b"", b"{\"encoder\": 1}\n", bytes(range(256)) * 4,
                                     pickle.dumps({"encoder": 1, "decoder": 2}, protocol=2)])
def test_not_a_torch_file(tmp_path, content):
    path = tmp_path / "checkpoint.pth.tar"
    path.write_bytes(content)
    with pytest.raises(VlkitError, match="not a PyTorch checkpoint"):
        read_tutorial_checkpoint(path)


@pytest.mark.parametrize("fmt", list(FORMATS))
@pytest.mark.parametrize("fraction", [0.02, 0.5, 0.99])
def test_a_truncated_file(saved, tmp_path, fmt, fraction):
    data = saved[fmt][0].read_bytes()
    path = tmp_path / "truncated.pth.tar"
    path.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(VlkitError, match="truncated or damaged"):
        read_tutorial_checkpoint(path)


@pytest.mark.filterwarnings("ignore:`torch.jit:FutureWarning")
def test_a_torchscript_archive_is_not_handed_to_torch_jit(tmp_path):
    path = tmp_path / "scripted.pt"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), path)
    with pytest.raises(VlkitError, match="is a TorchScript archive"):
        read_tutorial_checkpoint(path)


def test_a_dict_without_encoder_and_decoder(tmp_path):
    path = tmp_path / "model.pth"
    torch.save({"model": {"fc.weight": torch.zeros(2, 2)}, "epoch": 3, "optimizer": {}}, path)
    with pytest.raises(VlkitError, match=r"no 'encoder' or 'decoder' entry; its keys are 'model', 'epoch', "
                                         r"'optimizer'"):
        read_tutorial_checkpoint(path)


def test_not_a_dict(tmp_path):
    path = tmp_path / "weights.pth"
    torch.save(torch.zeros(3), path)
    with pytest.raises(VlkitError, match="holds a Tensor, not the captioning tutorial's checkpoint dict"):
        read_tutorial_checkpoint(path)


@pytest.mark.parametrize("legacy_format", [False, True])
def test_a_decoder_without_attention(tmp_path, legacy_format):
    path = tmp_path / "show_tell.pth.tar"
    write_tutorial_checkpoint(path, attention=False, legacy_format=legacy_format)
    with pytest.raises(VlkitError, match=r"no attention: it is models\.DecoderWithoutAttention with submodules "
                                         r"embedding, dropout, decode_step, init_h, init_c, fc, which looks like "
                                         r"a decoder without attention \(Show and Tell style"):
        read_tutorial_checkpoint(path)
