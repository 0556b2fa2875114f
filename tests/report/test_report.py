"""`vlkit report`: pages and tables made from run directories written by hand with known values (finished, killed,
still training, without any epoch), overfitting, best epochs, config differences, published numbers, captioning
examples and the errors a user meets."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import invoke_cli
from run_dirs import epoch_rows, vqa_config, write_run

from vlkit.report.overfitting import OverfittingSpan, find_overfitting

PER_TYPE_KEYS = ("val/acc_yes_no", "val/acc_number", "val/acc_other")


@pytest.fixture
def vqa_runs(tmp_path) -> dict[str, Path]:
    """Four VQA runs: finished (best val/acc 66.5 at epoch 4), killed while overfitting (no summary.json, a torn
    last line), still training, and one whose metrics file is empty."""
    root = tmp_path / "runs"
    finished = write_run(
        root, "vqa", "mcan_a", vqa_config("mcan_a", 1e-4),
        epoch_rows([50.0, 60.0, 65.0, 64.0, 66.5], [3.0, 2.0, 1.5, 1.2, 1.1],
                   extra={key: [40.0 + i, 50.0 + i, 55.0 + i, 54.0 + i, 56.0 + i] for i, key in
                          enumerate(PER_TYPE_KEYS)}),
        summary={"monitor": "val/acc", "best_val_metric": 66.5, "best_epoch": 4, "primary_metric": "overall",
                 "test": {"split": "val", "num_questions": 1000, "predictions": "x/predictions_val.json",
                          "overall": 66.9, "perAnswerType": {"yes/no": 84.1, "number": 48.2, "other": 58.3},
                          "perQuestionType": {"what color": 70.0, "how many": 45.5}}})
    killed = write_run(root, "vqa", "mcan_killed", vqa_config("mcan_killed", 3e-4),
                       epoch_rows([40.0, 55.0, 54.0, 52.0, 50.0], [2.0, 1.5, 1.2, 1.0, 0.8]),
                       status="interrupted", torn_last_line=True)
    running = write_run(root, "vqa", "mcan_running", vqa_config("mcan_running", 1e-4),
                        epoch_rows([30.0, 45.0], [2.5, 2.0]), status="running")
    empty = write_run(root, "vqa", "mcan_empty", vqa_config("mcan_empty", 1e-4), [], status="running")
    return {"finished": finished, "killed": killed, "running": running, "empty": empty}


def report_json(runs: list[Path], cwd: Path) -> dict:
    """`vlkit report RUNS --json` as a dict."""
    return json.loads(invoke_cli(["report", *map(str, runs), "--json"], cwd=cwd).stdout)


def rows_by_run(table: dict) -> dict[str, dict]:
    return {row["run"]: row for row in table["runs"]}


def test_page_lists_every_run_and_metric_and_its_pngs_exist_and_are_not_empty(vqa_runs, tmp_path):
    out = tmp_path / "report"
    invoke_cli(["report", *map(str, vqa_runs.values()), "--out", str(out)], cwd=tmp_path)
    page = (out / "report.html").read_text()
    for name in ("mcan_a", "mcan_killed", "mcan_running", "mcan_empty"):
        assert name in page
    for metric in ("val/acc", *PER_TYPE_KEYS, "overall", "perAnswerType", "yes/no", "number", "other",
                   "perQuestionType", "what color", "how many"):
        assert metric in page, metric
    images = re.findall(r'<img src="([^"]+)"', page)
    expected = {"curve_loss.png", "curve_val_acc.png", "curve_val_acc_yes_no.png", "curve_val_acc_number.png",
                "curve_val_acc_other.png", "test_perAnswerType.png", "test_perQuestionType.png"}
    assert set(images) == expected
    for name in images:
        png = (out / name).read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000, name


def test_best_epoch_is_the_epoch_of_the_highest_validation_accuracy(vqa_runs, tmp_path):
    rows = rows_by_run(report_json(list(vqa_runs.values()), tmp_path))
    assert (rows["mcan_a"]["best_epoch"], rows["mcan_a"]["best_val"]) == (4, 66.5)
    assert rows["mcan_a"]["val_at_best"] == {"val/acc": 66.5, "val/acc_yes_no": 56.0, "val/acc_number": 57.0,
                                             "val/acc_other": 58.0}
    assert (rows["mcan_killed"]["best_epoch"], rows["mcan_killed"]["best_val"]) == (1, 55.0)
    assert (rows["mcan_running"]["best_epoch"], rows["mcan_empty"]["best_epoch"]) == (1, None)


def test_best_epoch_of_a_monitor_to_minimise_is_its_lowest_and_the_first_of_equal_ones(tmp_path):
    run = write_run(tmp_path / "runs", "videoqa", "recon", {"model": {"name": "msvqa"}},
                    epoch_rows([0.9, 0.5, 0.7, 0.5], [1.0, 0.9, 0.8, 0.7], key="val/reconstruction"),
                    monitor="val/reconstruction", mode="min")
    row = report_json([run], tmp_path)["runs"][0]
    assert (row["best_epoch"], row["best_val"]) == (1, 0.5)


def test_killed_and_running_runs_are_read_as_far_as_they_got(vqa_runs, tmp_path):
    rows = rows_by_run(report_json(list(vqa_runs.values()), tmp_path))
    assert rows["mcan_killed"]["status"] == "interrupted" and rows["mcan_killed"]["epochs"] == 5  # torn line skipped
    assert rows["mcan_killed"]["test"] == {} and rows["mcan_killed"]["test_split"] is None
    assert rows["mcan_running"]["status"] == "running" and rows["mcan_running"]["epochs"] == 2
    assert rows["mcan_empty"]["epochs"] == 0
    assert any("no epoch finished yet" in note for note in rows["mcan_empty"]["notes"])


def test_overfitting_is_flagged_on_the_killed_run_and_not_on_the_healthy_ones(vqa_runs, tmp_path):
    rows = rows_by_run(report_json(list(vqa_runs.values()), tmp_path))
    assert rows["mcan_killed"]["overfitting"] == {"from_epoch": 1, "to_epoch": 4}
    assert rows["mcan_a"]["overfitting"] is None  # one dip (65 -> 64) then a new best
    assert rows["mcan_running"]["overfitting"] is None


@pytest.mark.parametrize("val, loss, mode, expected", [
    ([40, 55, 54, 52, 50], [2.0, 1.5, 1.2, 1.0, 0.8], "max", OverfittingSpan(1, 4)),  # 3 falls, loss falling
    ([40, 55, 54, 52, 53], [2.0, 1.5, 1.2, 1.0, 0.8], "max", None),  # only 2 falls in a row
    ([40, 55, 54, 52, 50], [2.0, 1.5, 1.6, 1.7, 1.8], "max", None),  # val falls but so does the fit: no overfitting
    ([40, 50, 60, 70, 80], [2.0, 1.5, 1.2, 1.0, 0.8], "max", None),  # healthy
    ([0.5, 0.4, 0.45, 0.5, 0.6], [2.0, 1.5, 1.2, 1.0, 0.8], "min", OverfittingSpan(1, 4)),  # a loss-like monitor rises
    ([40, 55, 54, 52, 50, 49, 60], [2.0, 1.5, 1.2, 1.0, 0.8, 0.7, 0.6], "max", OverfittingSpan(1, 5)),
])
def test_overfitting_needs_three_worse_epochs_in_a_row_while_training_loss_falls(val, loss, mode, expected):
    assert find_overfitting(list(range(len(val))), val, loss, mode) == expected


def test_config_differences_hold_only_the_keys_that_differ(vqa_runs, tmp_path):
    table = report_json([vqa_runs["finished"], vqa_runs["killed"]], tmp_path)
    assert table["config_differences"] == {"optim.lr": [1e-4, 3e-4], "run.name": ["mcan_a", "mcan_killed"]}
    out = tmp_path / "page"
    invoke_cli(["report", str(vqa_runs["finished"]), str(vqa_runs["killed"]), "--out", str(out)], cwd=tmp_path)
    differences = (out / "report.html").read_text().split("<h2>Config differences</h2>")[1]
    assert "optim.lr" in differences and "run.name" in differences
    assert "model.hidden_dim" not in differences and "optim.betas" not in differences


def test_json_prints_one_object_with_the_table_keys(vqa_runs, tmp_path):
    result = invoke_cli(["report", str(vqa_runs["finished"]), "--json"], cwd=tmp_path)
    table = json.loads(result.stdout)
    assert set(table) == {"task", "runs", "config_differences"}
    assert set(table["runs"][0]) == {
        "run", "path", "task", "status", "model", "dataset", "epochs", "monitor", "monitor_mode", "best_epoch",
        "best_val", "val_at_best", "train_seconds", "test_split", "primary_metric", "test", "test_per_type",
        "overfitting", "published", "notes"}
    assert table["runs"][0]["test"] == {"overall": 66.9}
    assert table["runs"][0]["train_seconds"] == 7.5  # 5 epochs x 1.5 s


def test_json_with_out_also_names_the_page_and_figures(vqa_runs, tmp_path):
    table = json.loads(invoke_cli(["report", str(vqa_runs["finished"]), "--out", str(tmp_path / "o"), "--json"],
                                  cwd=tmp_path).stdout)
    assert Path(table["html"]) == tmp_path / "o" / "report.html"
    assert all(Path(figure).is_file() for figure in table["figures"]) and len(table["figures"]) == 7


def test_published_number_is_compared_and_drawn_for_a_matching_run_only(vqa_runs, tmp_path):
    easy_config = {"model": {"name": "mcan_small"}, "data": {"dataset": "easy_vqa"}}
    easy = write_run(tmp_path / "runs", "vqa", "easy", easy_config, epoch_rows([50.0, 60.0], [1.0, 0.9]))
    rows = rows_by_run(report_json([vqa_runs["finished"], easy], tmp_path))
    published = rows["mcan_a"]["published"]
    assert [(item["value"], item["run_value"], item["gap"]) for item in published] == [(67.17, 66.9, -0.27)]
    assert rows["easy"]["published"] == []
    out = tmp_path / "page"
    invoke_cli(["report", str(vqa_runs["finished"]), "--out", str(out)], cwd=tmp_path)
    assert "MCAN-small, VQA v2 val" in (out / "report.html").read_text()


def test_video_qa_per_type_accuracy_is_charted_without_the_question_counts(tmp_path):
    run = write_run(tmp_path / "runs", "videoqa", "dualvgr", {"model": {"name": "dualvgr"}},
                    epoch_rows([30.0, 35.0], [2.0, 1.8]),
                    summary={"monitor": "val/acc", "primary_metric": "accuracy",
                             "test": {"split": "test", "num_questions": 20, "predictions": "p", "accuracy": 35.0,
                                      "per_type": {"what": 30.0, "who": 50.0},
                                      "per_type_count": {"what": 10, "who": 10}}})
    out = tmp_path / "page"
    table = json.loads(invoke_cli(["report", str(run), "--out", str(out), "--json"], cwd=tmp_path).stdout)
    assert table["runs"][0]["test_per_type"] == {"per_type": {"what": 30.0, "who": 50.0}}
    assert (out / "test_per_type.png").stat().st_size > 1000
    assert "per_type_count" not in (out / "report.html").read_text()


def test_strings_from_runs_are_escaped_in_the_page(tmp_path):
    runs = [write_run(tmp_path / "runs", "vqa", name, {"run": {"name": f"<script>{name}</script>"}},
                      epoch_rows([1.0], [1.0])) for name in ("a", "b")]
    out = tmp_path / "page"
    invoke_cli(["report", *map(str, runs), "--out", str(out)], cwd=tmp_path)
    page = (out / "report.html").read_text()
    assert "<script>" not in page and "&lt;script&gt;a&lt;/script&gt;" in page


def write_caption_run(root: Path, folder: str, captions: list[str], image_ids: list[int]) -> Path:
    """A finished captioning run on the prepared `folder` with its test predictions."""
    return write_run(root, "caption", "sat", {"model": {"name": "show_attend_tell"},
                                              "data": {"dataset": "prepared", "folder": folder}},
                     epoch_rows([0.5, 0.6], [3.0, 2.5], key="val/score"), monitor="val/score",
                     summary={"monitor": "val/score", "primary_metric": "CIDEr",
                              "test": {"split": "test", "num_questions": len(captions), "predictions": "p",
                                       "CIDEr": 0.6, "Bleu_4": 0.2}},
                     predictions=[{"image_id": i, "caption": c} for i, c in zip(image_ids, captions)])


def test_caption_examples_show_images_generated_and_reference_captions(tmp_path):
    from vlkit.caption.data.prepare import prepare_karpathy
    from vlkit.synth.captions import write_synthetic_karpathy

    karpathy = write_synthetic_karpathy(tmp_path / "raw", n_train=10, n_val=2, n_test=3, size=32, seed=0)
    prepare_karpathy(karpathy, tmp_path / "raw", tmp_path / "prepared", min_word_freq=1, image_size=32, workers=1,
                     progress=False)
    records = json.loads(karpathy.read_text())["images"]
    test = [record for record in records if record["split"] == "test"]
    run = write_caption_run(tmp_path / "runs", str(tmp_path / "prepared"), ["a <red> circle", "x", "y"],
                            [record["imgid"] for record in test])
    out = tmp_path / "page"
    invoke_cli(["report", str(run), "--out", str(out)], cwd=tmp_path)
    page = (out / "report.html").read_text()
    assert "a &lt;red&gt; circle" in page
    first_reference = " ".join(test[0]["sentences"][0]["tokens"])  # prepared references: the tokens
    assert first_reference in page
    for position in (1, 2, 3):
        assert (out / f"example_run1_{position}.png").stat().st_size > 100


def test_caption_examples_of_a_synthetic_run_come_from_the_vlkit_cache_where_training_put_the_set(tmp_path):
    from vlkit.caption.data.synthetic_module import SyntheticCaptionData, make_synthetic_folder

    settings = {"n_train": 10, "n_val": 2, "n_test": 3, "image_size": 32, "set_seed": 5}
    cache = tmp_path / "cache"
    make_synthetic_folder(cache / "synthetic-captions" / "10-2-3-32px-seed5", SyntheticCaptionData(**settings))
    records = json.loads((cache / "synthetic-captions" / "10-2-3-32px-seed5" / "raw" / "dataset_synthetic.json"
                          ).read_text())["images"]
    test = [record for record in records if record["split"] == "test"]
    run = write_run(tmp_path / "runs", "caption", "sat", {"model": {"name": "show_attend_tell"},
                                                          "data": {"dataset": "synthetic_shapes", "folder": "",
                                                                   **settings}},
                    epoch_rows([0.5], [3.0], key="val/score"), monitor="val/score",
                    summary={"monitor": "val/score", "primary_metric": "CIDEr",
                             "test": {"split": "test", "num_questions": 3, "predictions": "p", "CIDEr": 0.6}},
                    predictions=[{"image_id": r["imgid"], "caption": "a shape"} for r in test])
    out = tmp_path / "page"
    invoke_cli(["report", str(run), "--out", str(out)], cwd=tmp_path, env={"VLKIT_CACHE": str(cache)})
    assert " ".join(test[0]["sentences"][0]["tokens"]) in (out / "report.html").read_text()
    assert len(list(out.glob("example_run1_*.png"))) == 3
    invoke_cli(["report", str(run), "--out", str(tmp_path / "elsewhere")], cwd=tmp_path,
               env={"VLKIT_CACHE": str(tmp_path / "empty-cache")})
    assert "is not in this machine&#x27;s vlkit cache" in (tmp_path / "elsewhere" / "report.html").read_text()


def test_caption_examples_say_when_the_data_is_not_reachable(tmp_path):
    run = write_caption_run(tmp_path / "runs", str(tmp_path / "moved"), ["a red circle"], [7])
    out = tmp_path / "page"
    invoke_cli(["report", str(run), "--out", str(out)], cwd=tmp_path)
    page = (out / "report.html").read_text()
    assert "a red circle" in page and "could not be read" in page
    assert not list(out.glob("example_*.png"))


@pytest.mark.parametrize("make_args, message", [
    (lambda runs, tmp: [str(tmp)], "is not a run directory"),
    (lambda runs, tmp: [str(tmp / "nowhere")], "run directory not found"),
    (lambda runs, tmp: [str(runs["finished"]), str(runs["finished"])], "given more than once"),
    (lambda runs, tmp: [str(runs["finished"])], "give --out DIR"),
])
def test_user_errors_are_one_line_and_status_2(vqa_runs, tmp_path, make_args, message):
    args = make_args(vqa_runs, tmp_path)
    json_flag = [] if message == "give --out DIR" else ["--json"]
    result = invoke_cli(["report", *args, *json_flag], cwd=tmp_path, check=False)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("error: ") and message in result.stderr and result.stderr.count("\n") == 1


def test_runs_of_two_tasks_are_refused(vqa_runs, tmp_path):
    video = write_run(tmp_path / "runs", "videoqa", "dualvgr", {"model": {"name": "dualvgr"}},
                      epoch_rows([30.0], [2.0]))
    result = invoke_cli(["report", str(vqa_runs["finished"]), str(video), "--json"], cwd=tmp_path, check=False)
    assert result.returncode == 2 and "one task" in result.stderr and "videoqa: dualvgr" in result.stderr


def test_out_that_is_a_file_is_refused(vqa_runs, tmp_path):
    (tmp_path / "taken").write_text("")
    result = invoke_cli(["report", str(vqa_runs["finished"]), "--out", str(tmp_path / "taken")], cwd=tmp_path,
                        check=False)
    assert result.returncode == 2 and "is a file" in result.stderr


def test_report_help_has_an_example(tmp_path):
    assert "Example: vlkit report" in invoke_cli(["report", "--help"], cwd=tmp_path).stdout
