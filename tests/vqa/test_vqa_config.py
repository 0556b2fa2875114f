"""VQA configs: the embedded default recipe, typed overrides, strict keys per section, data sections per dataset."""

import dataclasses
import shutil

import pytest
import yaml

from conftest import LEGACY_RUNS, REPO, vqa_config
from vlkit.core.config import load_run_config
from vlkit.core.errors import VlkitError
from vlkit.vqa.task import VQATask


def test_defaults_are_the_shipped_easyvqa_recipe():
    defaults = vqa_config().to_dict()
    recipe = vqa_config(config_file=REPO / "configs/vqa/cnn_lstm_att_easyvqa.yaml").to_dict()
    assert defaults == recipe
    assert defaults["data"]["dataset"] == "easy_vqa"
    assert defaults["model"]["name"] == "cnn_lstm_att"
    assert list(defaults) == ["task", "run", "data", "model", "image_encoder", "optim", "trainer"]


def test_overrides_are_typed_and_win_over_the_file(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("trainer:\n  max_epochs: 3\noptim:\n  lr: 0.01\n")
    config = vqa_config("trainer.max_epochs=7", "model.hidden_dim=32", "trainer.precision=bf16-mixed",
                        config_file=recipe)
    assert config.trainer.max_epochs == 7
    assert config.optim.lr == 0.01
    assert config.model.hidden_dim == 32 and config.model_entry.name == "cnn_lstm_att"
    assert config.trainer.precision == "bf16-mixed"


def test_unknown_key_names_the_key_and_the_valid_ones():
    with pytest.raises(VlkitError) as error:
        vqa_config("trainer.max_epoch=3")
    message = str(error.value)
    assert "trainer.max_epoch" in message
    assert "max_epochs" in message and "patience" in message


def test_unknown_model_option_names_the_valid_ones():
    with pytest.raises(VlkitError) as error:
        vqa_config("model.hidden=3")
    assert "model.hidden" in str(error.value)
    assert "hidden_dim" in str(error.value)


def test_the_data_section_has_exactly_the_keys_of_its_dataset():
    easy = vqa_config().data
    assert {"root", "val_fraction", "image_size", "batch_size"} <= {f.name for f in dataclasses.fields(easy)}
    with pytest.raises(VlkitError, match=r"'data.features'.*valid keys at data: .*dataset.*val_fraction"):
        vqa_config("data.features=store")
    official = vqa_config("data.dataset=vqa", "model.name=qguided_att", "data.features=store").data
    assert official.features == "store" and official.answers == "mcan" and official.batch_size == 64
    with pytest.raises(VlkitError, match=r"'data.val_fraction'.*valid keys at data: .*features.*legacy_metric"):
        vqa_config("data.dataset=vqa", "model.name=qguided_att", "data.val_fraction=0.2")


def test_unknown_section_dataset_and_model_and_bad_values():
    with pytest.raises(VlkitError, match="valid keys at top level"):
        vqa_config("optimizer.lr=1")
    with pytest.raises(VlkitError, match="unknown model.name 'nope'; registered VQA models: .*cnn_lstm_att"):
        vqa_config("model.name=nope")
    with pytest.raises(VlkitError, match="unknown data.dataset 'nope'; registered VQA datasets: easy_vqa, vqa"):
        vqa_config("data.dataset=nope")
    with pytest.raises(VlkitError, match="trainer.max_epochs"):
        vqa_config("trainer.max_epochs=many")
    with pytest.raises(VlkitError, match="key=value"):
        vqa_config("trainer.max_epochs")
    with pytest.raises(VlkitError, match="section 'trainer' .* must be a mapping"):
        vqa_config("trainer=5")
    with pytest.raises(VlkitError, match="config is for task 'caption', not 'vqa'"):
        vqa_config("task=caption")


def test_a_model_that_reads_images_is_refused_on_a_features_dataset():
    with pytest.raises(VlkitError, match=r"model 'cnn_lstm_att' needs \['image_index', 'images'\].*'vqa'"):
        vqa_config("data.dataset=vqa")


def test_an_end_to_end_cnn_of_another_width_than_the_models_features_is_refused():
    with pytest.raises(VlkitError, match="cnn_channels ends with 16 channels .* D=1024: set model.feature_dim=16"):
        vqa_config("model.name=bow", "image_encoder.cnn_channels=[8,16]")
    assert vqa_config("model.name=bow", "model.feature_dim=16", "image_encoder.cnn_channels=[8,16]")


def test_bad_config_files(tmp_path):
    with pytest.raises(VlkitError, match="not found"):
        vqa_config(config_file=tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("trainer: [unclosed\n")
    with pytest.raises(VlkitError, match="not valid YAML"):
        vqa_config(config_file=broken)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("42\n")
    with pytest.raises(VlkitError, match="mapping"):
        vqa_config(config_file=scalar)


def test_a_run_config_saved_by_vlkit_0_1_loads_with_its_dataset_keys_only(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(LEGACY_RUNS / "vqa" / "legacy_cnn_lstm_att-20261128-190135", run)
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert "features" in saved["data"] and "legacy_metric" in saved["data"]  # one section with every dataset's keys
    config = load_run_config(VQATask(), run, ["data.eval_subset=10"])
    assert config.data_entry.name == "easy_vqa" and config.data.eval_subset == 10
    assert config.data.train_subset == 4000 and config.model.hidden_dim == 32
    assert not hasattr(config.data, "features")
    (run / "config.yaml").write_text(yaml.safe_dump({**saved, "data": {**saved["data"], "colour": "red"}}))
    with pytest.raises(VlkitError, match="'data.colour'"):
        load_run_config(VQATask(), run)


@pytest.mark.parametrize("overrides, says", [
    (["data.val_fraction=1"], "data.val_fraction=1.0: must be a number in (0, 1)"),
    (["data.image_size=4"], "data.image_size=4: must be at least 8: the CNN halves it 3 times"),
    (["data.max_question_len=0"], "data.max_question_len=0: must be a whole number >= 1"),
    (["model.hidden_dim=0"], "model.hidden_dim=0: must be a whole number >= 1"),
    (["model.dropout=1.5"], "model.dropout=1.5: must be a number in [0, 1)"),
    (["model.cnn_channels=[]"], "model.cnn_channels=[]: must be a non-empty list of whole numbers >= 1"),
    (["data.dataset=vqa", "model.name=mcan_small", "model.heads=7"], "model.hidden_size=512: must be a multiple"),
    (["data.dataset=vqa", "model.name=bow", "data.answers=mine"], "data.answers='mine': must be one of mcan"),
    (["data.dataset=vqa", "model.name=bow", "data.version=v3"], "data.version='v3': must be one of v1, v2"),
])
def test_a_bad_vqa_value_is_refused_with_its_key(overrides, says):
    with pytest.raises(VlkitError) as error:
        vqa_config(*overrides)
    assert says in str(error.value)


def test_a_data_error_is_found_before_the_run_directory_is_made(tmp_path):
    from conftest import invoke_cli

    result = invoke_cli(["vqa", "train", "--config", str(REPO / "configs/vqa/qguided_att_vqa2.yaml"),
                         f"data.root={tmp_path / 'nowhere'}", f"data.features={tmp_path / 'no-store'}",
                         f"run.root={tmp_path / 'runs'}"], cwd=tmp_path, check=False)
    assert result.returncode == 2 and "is not a vlkit feature store" in result.stderr
    assert not (tmp_path / "runs").exists()
