"""VQA on official-format files over a feature store: train, validate with the official metric, export results."""

import json
from pathlib import Path

import pytest

from color_questions import COLORS, make_data
from conftest import invoke_cli, only_run_dir, read_jsonl
from vlkit.synth.vqa_official_files import SynthQuestion, write_vqa_part

RECIPE = ["--config", "configs/vqa/qguided_att_vqa2.yaml", "data.features={root}/store", "data.root={root}",
          "data.num_workers=0", "data.batch_size=16", "model.feature_dim=8", "model.hidden_dim=32",
          "model.embed_dim=16", "model.classifier_dim=32", "model.dropout=0.0", "optim.lr=0.01",
          "trainer.max_epochs=8", "trainer.patience=100", "trainer.progress_bar=false", "run.root={root}/runs",
          "data.answers=pytorch-vqa"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from conftest import REPO

    root = tmp_path_factory.mktemp("vqa")
    parts = make_data(root)
    args = ["vqa", "train", *[a.format(root=root) for a in RECIPE], "--json"]
    summary = json.loads(invoke_cli(args, cwd=REPO).stdout)
    return root, parts, summary


def test_training_learns_and_its_validation_number_is_what_vqa_score_reports_for_the_best_checkpoint(trained):
    root, parts, summary = trained
    run_dir = only_run_dir(root / "runs")
    rows = read_jsonl(run_dir / "metrics.jsonl")
    assert rows[-1]["val/acc"] > 90  # the colour is in the features: the answer "color x8" scores 100
    check = json.loads((run_dir / "data_check.json").read_text())
    assert check["majority_baseline"]["overall"] < 60 and check["eval"]["images_without_features"] == 0
    # plumbing: validation and `vlkit vqa score` share vlkit's scorer, so this checks that validation scores
    # the right predictions; the scorer's agreement with the official evaluator is in tests/vqa/metrics
    results = root / "val_results.json"
    report = json.loads(invoke_cli(["vqa", "evaluate", str(run_dir), "--split", "val", "--results-out", str(results),
                                    "--json"], cwd=root).stdout)
    official = json.loads(invoke_cli(["vqa", "score",
                                      "--questions", str(root / "v2_OpenEnded_mscoco_val2014_questions.json"),
                                      "--annotations", str(root / "v2_mscoco_val2014_annotations.json"),
                                      "--results", str(results), "--json"], cwd=root).stdout)
    assert report["overall"] == official["overall"] == summary["best_val_metric"]


def test_test_dev_predictions_are_an_evalai_results_file(trained):
    root, parts, summary = trained
    assert summary["test"]["split"] == "test-dev" and "overall" not in summary["test"]
    results = json.loads(open(summary["test"]["predictions"]).read())
    assert sorted(r["question_id"] for r in results) == sorted(q.question_id for q in parts["test-dev"])
    assert all(isinstance(r["answer"], str) and r["answer"] in COLORS for r in results)


def test_questions_on_images_without_features_are_left_out_with_a_warning(tmp_path):
    from conftest import REPO

    make_data(tmp_path, train_images=12, val_images=4, test_images=2)
    extra = [SynthQuestion(9001, 55555, "What color is the ball?", "what color", "other", ("red",) * 10)]
    write_vqa_part(tmp_path / "more", "val", extra)
    val_questions = json.loads((tmp_path / "v2_OpenEnded_mscoco_val2014_questions.json").read_text())
    val_annotations = json.loads((tmp_path / "v2_mscoco_val2014_annotations.json").read_text())
    val_questions["questions"] += json.loads((tmp_path / "more/v2_OpenEnded_mscoco_val2014_questions.json").read_text())["questions"]
    val_annotations["annotations"] += json.loads((tmp_path / "more/v2_mscoco_val2014_annotations.json").read_text())["annotations"]
    (tmp_path / "v2_OpenEnded_mscoco_val2014_questions.json").write_text(json.dumps(val_questions))
    (tmp_path / "v2_mscoco_val2014_annotations.json").write_text(json.dumps(val_annotations))
    args = ["vqa", "train", *[a.format(root=tmp_path) for a in RECIPE], "trainer.max_epochs=1"]
    result = invoke_cli(args, cwd=REPO)
    assert "1 val image(s) have no features" in result.stderr
    assert "1 question(s) on 1 image(s) without features are left out" in result.stderr


def test_predict_from_an_image_says_a_features_run_needs_evaluate(trained, tmp_path):
    from vlkit.vqa.data.easyvqa_files import default_root

    root, _, summary = trained
    result = invoke_cli(["vqa", "predict", summary["run_dir"], "--image", str(default_root() / "test/images/0.png"),
                         "--question", "what color is the ball?"], cwd=root, check=False)
    assert result.returncode == 2 and "reads precomputed features" in result.stderr


def test_mcan_recipe_trains_with_glove_refuses_to_start_without_and_records_glove_none(tmp_path):
    from conftest import REPO

    make_data(tmp_path, train_images=16, val_images=4, test_images=2)  # the recipe's vocabulary reads test2015 + VG
    write_vqa_part(tmp_path, "test", [SynthQuestion(9000, 2000, "Which hue is the sphere?", "which", "other", ())])
    write_vqa_part(tmp_path, "vg", [SynthQuestion(9001, 1, "What shade is the ball?", "what", "other", ("red",) * 10)])
    glove = tmp_path / "glove.txt"
    glove.write_text("what " + " ".join(["0.5"] * 8) + "\ncolor " + " ".join(["-0.5"] * 8) + "\n")
    args = ["vqa", "train", "--config", "configs/vqa/mcan_small_vqa2.yaml", f"data.root={tmp_path}",
            f"data.features={tmp_path}/store", "data.train_split=train", "data.answers=pytorch-vqa",
            "data.num_workers=0", "data.batch_size=8", "model.feature_dim=8", "model.embed_dim=8",
            "model.hidden_size=16", "model.heads=2", "model.layers=1", "model.flat_mlp_size=8",
            "model.flat_out_size=16", f"model.glove={glove}", "trainer.max_epochs=2", "trainer.progress_bar=false",
            f"run.root={tmp_path}/runs", "--json"]
    result = invoke_cli(args, cwd=REPO)
    summary = json.loads(result.stdout)
    assert summary["model"] == "mcan_small" and summary["epochs_trained"] == 2
    assert "word embeddings from" in result.stderr
    assert "sphere" in json.loads((Path(summary["run_dir"]) / "vocab.json").read_text())["words"]
    assert "departures" not in json.loads((Path(summary["run_dir"]) / "run.json").read_text())

    without = invoke_cli([*[a for a in args if not a.startswith("model.glove=")], "trainer.max_epochs=1"], cwd=REPO,
                         check=False)
    assert without.returncode == 2 and "pass model.glove=PATH/glove.840B.300d.txt" in without.stderr
    declined = json.loads(invoke_cli([*[a for a in args if not a.startswith("model.glove=")], "model.glove=none",
                                      "trainer.max_epochs=1"], cwd=REPO).stdout)
    assert json.loads((Path(declined["run_dir"]) / "run.json").read_text())["departures"] == [
        "model.glove=none: the word embeddings start random, not from GloVe as the reference's do"]


BASELINE_WIDTHS = {
    "bow": ["model.embed_dim=16"],
    "concat_mean": ["model.embed_dim=16", "model.classifier_dim=32", "model.dropout=0.0"],
    "lstm_spatial": ["model.embed_dim=16", "model.hidden_dim=32", "model.attention_dim=16", "model.classifier_dim=32",
                     "model.dropout=0.0"],
    "lstm_qatt": ["model.embed_dim=16", "model.hidden_dim=32", "model.attention_dim=16", "model.classifier_dim=32",
                  "model.dropout=0.0"],
}


@pytest.mark.parametrize("name", sorted(BASELINE_WIDTHS))
def test_each_baseline_recipe_learns_from_the_feature_store(tmp_path, name):
    from conftest import REPO

    make_data(tmp_path, train_images=40, val_images=8, test_images=2)
    args = ["vqa", "train", "--config", f"configs/vqa/{name}_vqa2.yaml", f"data.root={tmp_path}",
            f"data.features={tmp_path}/store", "data.answers=pytorch-vqa", "data.num_workers=0", "data.batch_size=8",
            "model.feature_dim=8", *BASELINE_WIDTHS[name], "optim.lr=0.01", "trainer.max_epochs=12",
            "trainer.patience=100", "trainer.progress_bar=false", f"run.root={tmp_path}/runs", "--json"]
    summary = json.loads(invoke_cli(args, cwd=REPO).stdout)
    assert summary["model"] == name
    assert summary["best_val_metric"] > 90  # the colour is in the features: "color x8" of 10 humans scores 100
