"""Run directories written by vlkit 0.1 (tests/data/legacy_runs, made with the code before the one-core redesign)
still evaluate, predict and resume, with the numbers that code gave."""

import json
import shutil

import pytest
import torch

from color_questions import make_data
from conftest import LEGACY_RUNS, invoke_cli, run_cli
from vlkit.vqa.data.easyvqa_files import default_root

EASYVQA_RUN = LEGACY_RUNS / "vqa" / "legacy_cnn_lstm_att-20261128-190135"
FEATURES_RUN = LEGACY_RUNS / "vqa" / "legacy_qguided_att-20261128-190220"
EXPECTED = LEGACY_RUNS / "expected"


@pytest.fixture
def easyvqa_run(tmp_path):
    """A copy of the old easy-VQA run (commands write into a run; the fixture stays as it was)."""
    return shutil.copytree(EASYVQA_RUN, tmp_path / "runs" / "vqa" / EASYVQA_RUN.name)


def test_an_old_easyvqa_run_evaluates_to_the_test_report_it_recorded(easyvqa_run, tmp_path):
    recorded = json.loads((easyvqa_run / "summary.json").read_text())["test"]
    report = json.loads(invoke_cli(["vqa", "evaluate", str(easyvqa_run), "--split", "test", "--json"],
                                   cwd=tmp_path).stdout)
    assert (report["overall"], report["perAnswerType"]) == (recorded["overall"], recorded["perAnswerType"])
    old_rows = json.loads((EASYVQA_RUN / "predictions_test.json").read_text())
    assert json.loads((easyvqa_run / "predictions_test.json").read_text()) == old_rows


def test_an_old_easyvqa_run_predicts_the_probabilities_and_attention_the_old_code_gave(easyvqa_run, tmp_path):
    from vlkit.vqa.predictor import VQAPredictor
    from vlkit.vqa.task import VQATask

    cases = json.loads((EXPECTED / "cnn_lstm_att_predictions.json").read_text())
    result = invoke_cli(["vqa", "predict", str(easyvqa_run), "--image", str(default_root() / cases[0]["image"]),
                         "--question", cases[0]["question"], "--top-k", "13", "--json"], cwd=tmp_path)
    answers = json.loads(result.stdout)["answers"]
    assert [a["answer"] for a in answers] == [answer for answer, _ in cases[0]["answers"]]
    assert [a["probability"] for a in answers] == pytest.approx([p for _, p in cases[0]["answers"]], abs=1e-6)
    predictor = VQAPredictor.open(VQATask(), easyvqa_run)  # loaded once, answers every case
    for case in cases:
        prediction = predictor.answer(default_root() / case["image"], case["question"], top_k=13)
        assert [answer for answer, _ in prediction.answers] == [answer for answer, _ in case["answers"]]
        assert [p for _, p in prediction.answers] == pytest.approx([p for _, p in case["answers"]], abs=1e-6)
        torch.testing.assert_close(prediction.attention, torch.tensor(case["attention"]), rtol=0, atol=1e-6)


def test_an_old_easyvqa_run_resumes_for_another_epoch(easyvqa_run, tmp_path):
    invoke_cli(["vqa", "train", "--resume", str(easyvqa_run), "trainer.max_epochs=9"], cwd=tmp_path)
    rows = [json.loads(line) for line in (easyvqa_run / "metrics.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in rows] == list(range(9))
    assert json.loads((easyvqa_run / "run.json").read_text())["status"] == "finished"
    listing = json.loads(invoke_cli(["runs", "list", "--json"], cwd=tmp_path).stdout)["runs"]
    assert [(run["task"], run["epochs"], run["metric"]) for run in listing] == [("vqa", 9, "overall")]


def test_an_old_features_run_evaluates_with_the_probabilities_the_old_code_gave(tmp_path):
    make_data(tmp_path / "data")
    run = shutil.copytree(FEATURES_RUN, tmp_path / "run")
    data = [f"data.root={tmp_path / 'data'}", f"data.features={tmp_path / 'data' / 'store'}"]
    report = json.loads(invoke_cli(["vqa", "evaluate", str(run), "--split", "val", *data, "--json"],
                                   cwd=tmp_path).stdout)
    expected = json.loads((EXPECTED / "qguided_att_val_report.json").read_text())
    assert {k: v for k, v in report.items() if k != "predictions"} == \
        {k: v for k, v in expected.items() if k != "predictions"}

    from vlkit.core.config import load_run_config
    from vlkit.core.predictor import load_run
    from vlkit.vqa.task import VQATask

    task = VQATask()
    trained = load_run(task, run)
    datamodule = task.build_datamodule(load_run_config(task, run, data), trained.vocabularies)
    old = json.loads((EXPECTED / "qguided_att_val_probabilities.json").read_text())
    assert trained.vocabularies.answers == old["answers"]
    question_ids = datamodule.split("val").question_ids
    with torch.no_grad():
        for batch in datamodule.loader("val"):
            probabilities = torch.softmax(trained.module(batch)["logits"], dim=1)
            for position, row in zip(batch["index"].tolist(), probabilities):
                expected_row = torch.tensor(old["probabilities"][str(question_ids[position])])
                torch.testing.assert_close(row, expected_row, rtol=0, atol=1e-6)


@pytest.mark.slow
def test_the_command_of_the_old_easyvqa_run_trains_to_the_numbers_it_recorded(tmp_path):
    """CPU training with one thread is repeatable: the old run's own command, run again by this code, must give
    the same loss and validation accuracies in every epoch (same torch build and CPU as the fixture's)."""
    command = json.loads((EASYVQA_RUN / "run.json").read_text())["command"][1:]
    run_cli([*command, f"run.root={tmp_path / 'runs'}"], cwd=tmp_path, timeout=900)
    (again,) = (tmp_path / "runs" / "vqa").iterdir()

    def numbers(run):
        return [{k: v for k, v in json.loads(line).items() if "seconds" not in k and "samples" not in k}
                for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert numbers(again) == numbers(EASYVQA_RUN)
