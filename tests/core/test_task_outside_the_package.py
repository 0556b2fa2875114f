"""A task written outside vlkit (counting_task.py) trains, resumes, evaluates, predicts and is listed through the
core alone: the generic fit, evaluate, Predictor and runs list, with no core file knowing the task."""

import json
from pathlib import Path

import pytest
import torch
from counting_task import CountingTask

from vlkit.core.config import load_config, load_run_config
from vlkit.core.errors import VlkitError
from vlkit.core.evaluate import evaluate_run
from vlkit.core.fit import fit
from vlkit.core.runs import list_runs

SETTINGS = ["trainer.progress_bar=false", "trainer.threads=1", "trainer.patience=100", "optim.lr=0.01",
            "data.batch_size=32", "loss.label_smoothing=0.05"]


def weights(run_dir):
    return torch.load(run_dir / "last.ckpt", map_location="cpu", weights_only=True)["state_dict"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One run trained 2 epochs straight, and one trained 1 epoch, then resumed to 2."""
    root = tmp_path_factory.mktemp("counting")
    task = CountingTask()
    straight = fit(task, load_config(task, None, [*SETTINGS, f"run.root={root}/a", "trainer.max_epochs=2"]))
    first = fit(task, load_config(task, None, [*SETTINGS, f"run.root={root}/b", "trainer.max_epochs=1"]))
    resumed_dir = Path(first["run_dir"])
    resumed = fit(task, load_run_config(task, resumed_dir, ["trainer.max_epochs=2"]), resumed_dir)
    return root, straight, resumed


def test_fit_trains_two_epochs_and_scores_the_test_split_with_the_tasks_metric(runs):
    _, straight, _ = runs
    run_dir = Path(straight["run_dir"])
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in rows] == [0, 1]
    assert {"val/accuracy", "val/mean_abs_error", "train/loss_epoch"} <= set(rows[0])
    assert straight["monitor"] == "val/accuracy" and straight["primary_metric"] == "accuracy"
    assert straight["best_val_metric"] == pytest.approx(max(row["val/accuracy"] for row in rows), abs=1e-5)
    predictions = json.loads((run_dir / "predictions_test.json").read_text())
    exact = sum(row["count"] == row["truth"] for row in predictions) / len(predictions)
    assert straight["test"]["accuracy"] == round(100 * exact, 2)
    assert straight["test"]["accuracy"] > 50  # counting 8 bits is learnt in two epochs
    assert json.loads((run_dir / "labels.json").read_text()) == [str(c) for c in range(9)]


def test_a_resumed_run_ends_with_the_weights_of_an_unbroken_run(runs):
    _, straight, resumed = runs
    expected, actual = weights(Path(straight["run_dir"])), weights(Path(resumed["run_dir"]))
    assert expected.keys() == actual.keys()
    for name in expected:
        torch.testing.assert_close(actual[name], expected[name], rtol=1e-6, atol=1e-7, msg=name)
    assert resumed["epochs_trained"] == 2
    assert resumed["test"]["accuracy"] == straight["test"]["accuracy"]


def test_evaluate_and_the_predictor_answer_as_the_trained_model(runs, tmp_path):
    _, straight, _ = runs
    task = CountingTask()
    run_dir = Path(straight["run_dir"])
    report = evaluate_run(task, run_dir, "test", results_out=tmp_path / "rows.json")
    assert report["accuracy"] == straight["test"]["accuracy"]
    rows = json.loads((tmp_path / "rows.json").read_text())
    predictor = task.predictor_class.open(task, run_dir)
    datamodule = task.build_datamodule(predictor.trained.config, predictor.trained.vocabularies)
    for row in rows[:20]:
        bits = datamodule.splits["test"][row["index"]].int().tolist()
        assert predictor.count(bits) == row["count"]
    with pytest.raises(VlkitError, match="evaluate takes only data"):
        evaluate_run(task, run_dir, "test", overrides=["model.hidden=3"])


def test_runs_list_shows_the_tasks_own_metrics(runs):
    root, straight, _ = runs
    (info,) = list_runs(root / "a")
    assert (info.task, info.status, info.epochs) == ("counting", "finished", 2)
    assert (info.monitor, info.best_metric) == ("val/accuracy", straight["best_val_metric"])
    assert (info.metric, info.test_metric) == ("accuracy", straight["test"]["accuracy"])


def test_the_tasks_sections_are_checked_as_strictly_as_vqas():
    task = CountingTask()
    with pytest.raises(VlkitError, match="'loss.smoothing'.*valid keys at loss: label_smoothing"):
        load_config(task, None, ["loss.smoothing=0.1"])
    with pytest.raises(VlkitError, match="'data.size'.*valid keys at data: .*dataset.*length"):
        load_config(task, None, ["data.size=3"])
    with pytest.raises(VlkitError, match="unknown model.name 'cnn_lstm_att'; registered counting models: mlp"):
        load_config(task, None, ["model.name=cnn_lstm_att"])
    with pytest.raises(VlkitError, match="config is for task 'vqa', not 'counting'"):
        load_config(task, None, ["task=vqa"])
