from pathlib import Path

import pytest
from omegaconf import OmegaConf

from vlkit.config import load_config, model_options
from vlkit.errors import VlkitError

REPO = Path(__file__).resolve().parents[1]


def test_defaults_are_the_shipped_easyvqa_recipe():
    defaults = OmegaConf.to_container(load_config())
    recipe = OmegaConf.to_container(load_config(REPO / "configs/vqa/cnn_lstm_att_easyvqa.yaml"))
    assert defaults == recipe
    assert defaults["data"]["dataset"] == "easy_vqa"
    assert defaults["model"]["name"] == "cnn_lstm_att"


def test_overrides_are_typed_and_win_over_the_file(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("trainer:\n  max_epochs: 3\noptim:\n  lr: 0.01\n")
    config = load_config(recipe, ["trainer.max_epochs=7", "model.hidden_dim=32", "trainer.precision=bf16-mixed"])
    assert config.trainer.max_epochs == 7
    assert config.optim.lr == 0.01
    assert config.model.hidden_dim == 32
    assert model_options(config).hidden_dim == 32
    assert config.trainer.precision == "bf16-mixed"


def test_unknown_key_names_the_key_and_the_valid_ones():
    with pytest.raises(VlkitError) as error:
        load_config(overrides=["trainer.max_epoch=3"])
    message = str(error.value)
    assert "trainer.max_epoch" in message
    assert "max_epochs" in message and "patience" in message


def test_unknown_model_option_names_the_valid_ones():
    with pytest.raises(VlkitError) as error:
        load_config(overrides=["model.hidden=3"])
    assert "model.hidden" in str(error.value)
    assert "hidden_dim" in str(error.value)


def test_unknown_section_and_model_and_bad_values():
    with pytest.raises(VlkitError, match="valid keys at top level"):
        load_config(overrides=["optimizer.lr=1"])
    with pytest.raises(VlkitError, match="unknown model 'nope'.*cnn_lstm_att"):
        load_config(overrides=["model.name=nope"])
    with pytest.raises(VlkitError, match="trainer.max_epochs"):
        load_config(overrides=["trainer.max_epochs=many"])
    with pytest.raises(VlkitError, match="key=value"):
        load_config(overrides=["trainer.max_epochs"])


def test_bad_config_files(tmp_path):
    with pytest.raises(VlkitError, match="not found"):
        load_config(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("trainer: [unclosed\n")
    with pytest.raises(VlkitError, match="not valid YAML"):
        load_config(broken)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("42\n")
    with pytest.raises(VlkitError, match="mapping"):
        load_config(scalar)
