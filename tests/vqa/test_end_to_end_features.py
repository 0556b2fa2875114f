"""Feature-reading models on images: the end-to-end CNN adapter, and every shipped recipe builds and runs."""

import json
import shutil

import pytest
import torch
from PIL import Image

from conftest import REPO, build_vqa_model, invoke_cli, vqa_config, vqa_module
from vlkit.core.errors import VlkitError
from vlkit.vision.end_to_end import EndToEndFeatures
from vlkit.vqa.data.easyvqa_files import default_root

EASYVQA_RECIPES = sorted(REPO.glob("configs/vqa/*_easyvqa.yaml"))
VQA2_RECIPES = sorted(REPO.glob("configs/vqa/*_vqa2.yaml"))


def image_batch(images: int = 2, questions: int = 5) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    lengths = torch.tensor([4, 2, 3, 1, 4])[:questions]
    tokens = torch.randint(2, 20, (questions, 4), generator=g)
    tokens[torch.arange(4)[None] >= lengths[:, None]] = 0
    return {"images": torch.randint(0, 256, (images, 3, 32, 32), dtype=torch.uint8, generator=g),
            "image_index": torch.tensor([0, 1, 1, 0, 1])[:questions], "tokens": tokens, "lengths": lengths}


def tiny_saaa() -> torch.nn.Module:
    config = vqa_config("model.feature_dim=8", "model.question_dim=12", "model.attention_dim=6", "model.dropout=0.0",
                        "image_encoder.cnn_channels=[4,8]", config_file=REPO / "configs/vqa/saaa_easyvqa.yaml")
    torch.manual_seed(0)
    return build_vqa_model("saaa", config.model, vocab_size=20, num_answers=4).eval()


def test_the_grid_cells_are_the_models_feature_rows():
    model = tiny_saaa()
    adapter = EndToEndFeatures(model, feature_dim=8, cnn_channels=[4, 8]).eval()
    batch = image_batch()
    out = adapter(batch)
    grid = adapter.cnn(batch["images"])  # (2, 8, 8, 8): 32x32 images after two stages
    cells = grid.flatten(2).transpose(1, 2)[batch["image_index"]]  # (5, 64, 8)
    direct = model({**batch, "features": cells, "feature_mask": torch.ones(5, 64, dtype=torch.bool)})
    torch.testing.assert_close(out["logits"], direct["logits"], rtol=0, atol=0)
    assert out["attention"].shape == (5, 2, 8, 8)  # (B, G, h, w) maps, as predict draws them
    torch.testing.assert_close(out["attention"].flatten(2), direct["attention"], rtol=0, atol=0)


def test_cnn_width_must_equal_the_feature_dim():
    with pytest.raises(VlkitError, match="model.feature_dim=16"):
        EndToEndFeatures(tiny_saaa(), feature_dim=8, cnn_channels=[4, 16])


@pytest.mark.parametrize("recipe", EASYVQA_RECIPES, ids=lambda p: p.stem)
def test_every_easyvqa_recipe_builds_and_answers_images(recipe):
    config = vqa_config("data.image_size=32", config_file=recipe)
    assert config.data_entry.name == "easy_vqa" and config.run.name == recipe.stem
    module = vqa_module(config, vocab_size=20, num_answers=13).eval()
    if "features" in config.model_entry.inputs:
        assert isinstance(module.model, EndToEndFeatures)
    with torch.no_grad():
        logits = module(image_batch())["logits"]
    assert logits.shape == (5, 13) and torch.isfinite(logits).all()


@pytest.mark.parametrize("recipe", VQA2_RECIPES, ids=lambda p: p.stem)
def test_every_vqa2_recipe_reads_features_of_its_dimension(recipe):
    config = vqa_config(config_file=recipe)
    assert config.data_entry.name == "vqa" and config.run.name == recipe.stem
    module = vqa_module(config, vocab_size=30, num_answers=10).eval()
    assert "features" in config.model_entry.inputs and not isinstance(module.model, EndToEndFeatures)
    dim = config.model.feature_dim
    batch = {"features": torch.randn(2, 3, dim), "feature_mask": torch.tensor([[1, 1, 0], [1, 0, 0]]).bool(),
             "tokens": torch.tensor([[3, 4, 5], [6, 0, 0]]), "lengths": torch.tensor([3, 1])}
    with torch.no_grad():
        assert module(batch)["logits"].shape == (2, 10)


@pytest.mark.parametrize("model, attends_to_the_image", [("bow", False), ("lstm_spatial", True)])
def test_a_feature_model_runs_end_to_end_on_easyvqa_images_and_answers_from_its_run(tmp_path, model,
                                                                                      attends_to_the_image):
    small = ["data.train_subset=600", "data.eval_subset=100", "trainer.max_epochs=1", "trainer.progress_bar=false"]
    result = invoke_cli(["vqa", "train", "--config", str(REPO / f"configs/vqa/{model}_easyvqa.yaml"), *small, "--json"],
                        cwd=tmp_path)
    summary = json.loads(result.stdout)
    assert summary["model"] == model and summary["test"]["num_questions"] == 100
    image = tmp_path / "shape.png"
    shutil.copy(default_root() / "test" / "images" / "0.png", image)
    run = summary["run_dir"]
    answered = invoke_cli(["vqa", "predict", run, "--image", str(image), "--question", "is it red?", "--json"],
                          cwd=tmp_path)
    assert len(json.loads(answered.stdout)["answers"]) == 5
    drawing = tmp_path / "att.png"
    drawn = invoke_cli(["vqa", "predict", run, "--image", str(image), "--question", "is it red?", "--attention",
                        str(drawing)], cwd=tmp_path, check=False)
    if attends_to_the_image:
        assert drawn.returncode == 0 and Image.open(drawing).size[0] > 100
    else:
        assert drawn.returncode == 2 and "no attention over the image" in drawn.stderr
