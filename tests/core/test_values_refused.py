"""Every bad value of the generic sections is one error naming the key, the value and what is allowed, found
while the config loads: before any data is read or any directory made."""

import pytest
from counting_task import CountingTask

from conftest import invoke_cli
from vlkit.core.config import load_config
from vlkit.core.errors import VlkitError


def refused(*overrides):
    with pytest.raises(VlkitError) as error:
        load_config(CountingTask(), None, list(overrides))
    return str(error.value)


@pytest.mark.parametrize("override, says", [
    ("data.batch_size=0", "data.batch_size=0: must be a whole number >= 1"),
    ("data.eval_batch_size=-4", "data.eval_batch_size=-4: must be a whole number >= 1"),
    ("data.num_workers=-1", "data.num_workers=-1: must be a number >= 0"),
    ("optim.lr=-0.1", "optim.lr=-0.1: must be a number > 0"),
    ("optim.lr=0", "optim.lr=0.0: must be a number > 0"),
    ("optim.betas=[0.9,1.5]", "optim.betas=[0.9, 1.5]: must be two numbers in [0, 1)"),
    ("trainer.precision=64", "trainer.precision='64': must be one of 32, 32-true, bf16-mixed, 16-mixed"),
    ("trainer.max_epochs=0", "trainer.max_epochs=0: must be a whole number >= 1"),
    ("trainer.max_epochs=1.5", "'trainer.max_epochs' in command-line overrides: Value '1.5' of type 'float'"),
    ("trainer.patience=-1", "trainer.patience=-1: must be a number >= 0"),
    ("trainer.devices=0", "trainer.devices=0: must be a count >= 1, -1"),
    ("trainer.strategy=fastest", "trainer.strategy='fastest': must be one of auto, ddp"),
    ("trainer.accumulate_grad_batches=0", "trainer.accumulate_grad_batches=0: must be a whole number >= 1"),
    ("trainer.matmul_precision=low", "trainer.matmul_precision='low': must be one of highest, high, medium"),
    ("trainer.compile=maybe", "'trainer.compile' in command-line overrides: Value 'maybe' is not a valid bool"),
    ("trainer=5", "config section 'trainer' in command-line overrides must be a mapping"),
    ("run.name=a/b/../../../../escape", "run.name='a/b/../../../../escape': must be a plain name"),
    ("run.name=..", "run.name='..': must be a plain name"),
])
def test_a_bad_generic_value_is_refused_with_its_key_value_and_what_is_allowed(override, says):
    message = refused(override)
    assert says in message and "\n" not in message


def test_a_cpu_machine_refuses_gpu_training_and_16_bit_mixed_precision():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert "this machine has no CUDA GPU" in refused("trainer.accelerator=gpu")
    assert "16-mixed needs a GPU" in refused("trainer.precision=16-mixed")


def test_compiling_on_a_cpu_without_a_cpp_compiler_is_refused_before_any_work(monkeypatch):
    import shutil

    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert "trainer.compile=True: must be false here: torch.compile on the CPU needs a C++ compiler" in refused(
        "trainer.compile=true")
    load_config(CountingTask(), None, ["trainer.compile=false"])


def test_a_run_root_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "runs").write_text("")
    assert "run.root=" in refused(f"run.root={tmp_path / 'runs'}") and "this path is a file" in refused(
        f"run.root={tmp_path / 'runs'}")


def test_a_yaml_syntax_error_names_the_file_line_and_column(tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("trainer:\n  max_epochs: 3\n  patience: [1, 2\n")
    with pytest.raises(VlkitError, match=r"config file .*recipe.yaml is not valid YAML at line 4, column 1"):
        load_config(CountingTask(), recipe)


def test_an_escaping_run_name_creates_nothing_anywhere(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    result = invoke_cli(["vqa", "train", "run.name=a/b/../../../escape"], cwd=work, check=False)
    assert result.returncode == 2 and result.stderr.strip().startswith("error: invalid value run.name=")
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["work"]
