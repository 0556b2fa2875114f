"""The video QA recipes load, name what their references use, and refuse to start without what they require."""

from __future__ import annotations

from pathlib import Path

import pytest

from vlkit.core.config import load_config
from vlkit.core.errors import VlkitError
from vlkit.videoqa.task import VideoQATask

RECIPES = sorted((Path(__file__).resolve().parents[2] / "configs" / "videoqa").glob("*.yaml"))


def test_there_are_the_dualvgr_and_msvqa_recipes():
    assert [path.name for path in RECIPES] == ["dualvgr_msrvtt.yaml", "dualvgr_msvd.yaml", "msvqa_qa_msvd.yaml",
                                               "msvqa_reconstruction_msvd.yaml"]


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda path: path.stem)
def test_each_recipe_loads_with_the_reference_settings(recipe):
    config = load_config(VideoQATask(), recipe)
    assert (config.model.module_dim, config.model.appearance_dim, config.model.motion_dim) == (768, 2048, 2048)
    assert config.trainer.gradient_clip_val == 12.0 and config.optim.lr == 1e-4


def test_dualvgr_msvd_is_the_repositorys_recipe():
    config = load_config(VideoQATask(), RECIPES[1])
    assert (config.data.batch_size, config.trainer.max_epochs, config.optim.lr_decay_epochs,
            config.optim.lr_decay_factor) == (256, 25, [10, 20], 0.5)


@pytest.mark.parametrize("recipe,message", [(RECIPES[1], "starts the word embeddings from GloVe"),
                                            (RECIPES[2], "pass model.init_from=RUN")], ids=["glove", "init_from"])
def test_a_recipe_refuses_to_start_without_what_it_requires(recipe, message):
    task = VideoQATask()
    with pytest.raises(VlkitError, match=message):
        task.training_departures(load_config(task, recipe))
