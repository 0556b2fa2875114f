import json
import os

import pytest

from vlkit.core.errors import VlkitError
from vlkit.core.runs import create_run_dir, list_runs, resolve_run, write_metadata


def test_run_directories_are_never_reused(tmp_path):
    made = {create_run_dir(tmp_path, "vqa", "same") for _ in range(5)}  # all within one second
    assert len(made) == 5
    assert all(p.parent == tmp_path / "vqa" and p.name.startswith("same-") for p in made)


def test_launcher_job_id_gives_every_process_the_same_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "abc123")
    assert create_run_dir(tmp_path, "vqa", "x") == create_run_dir(tmp_path, "vqa", "x") == tmp_path / "vqa/x-jobabc123"


def test_status_of_a_killed_run_reads_interrupted(tmp_path):
    run = create_run_dir(tmp_path, "vqa", "r")
    (run / "config.yaml").write_text("task: vqa\n")
    write_metadata(run, "vqa", "running")
    metadata = json.loads((run / "run.json").read_text())
    metadata["pid"] = 2 ** 22 + 12345  # beyond pid_max: no such process
    (run / "run.json").write_text(json.dumps(metadata))
    [info] = list_runs(tmp_path)
    assert info.status == "interrupted"
    write_metadata(run, "vqa", "running")  # this process is alive
    assert list_runs(tmp_path)[0].status == "running"
    assert os.getpid() == json.loads((run / "run.json").read_text())["pid"]


def test_resolve_run_by_path_or_name(tmp_path):
    run = create_run_dir(tmp_path, "vqa", "named")
    assert resolve_run(run) == run
    assert resolve_run(run.name, tmp_path) == run
    with pytest.raises(VlkitError, match="not found"):
        resolve_run("nothing", tmp_path)


def test_an_unreadable_run_is_listed_as_unreadable_and_the_others_still_are(tmp_path):
    good = create_run_dir(tmp_path, "vqa", "good")
    (good / "config.yaml").write_text("task: vqa\n")
    write_metadata(good, "vqa", "finished")
    faults = {"list": ("run.json", "[1, 2]"), "number": ("run.json", '{"status": 3}'),
              "summary": ("summary.json", "{not json")}
    for name, (file, text) in faults.items():
        run = create_run_dir(tmp_path, "vqa", name)
        (run / "config.yaml").write_text("task: vqa\n")
        write_metadata(run, "vqa", "finished")
        (run / file).write_text(text)
    infos = {info.path.name.split("-")[0]: info for info in list_runs(tmp_path)}
    assert infos["good"].status == "finished"
    assert all(infos[name].status.startswith("unreadable") for name in faults), infos


def test_an_unfinished_run_shows_its_best_validation_value_so_far(tmp_path):
    run = create_run_dir(tmp_path, "vqa", "r")
    (run / "config.yaml").write_text("task: vqa\n")
    write_metadata(run, "vqa", "interrupted", monitor="val/acc", monitor_mode="max")
    (run / "metrics.jsonl").write_text("".join(json.dumps({"epoch": e, "val/acc": v}) + "\n"
                                               for e, v in enumerate([40.0, 61.5, 55.0])))
    [info] = list_runs(tmp_path)
    assert (info.status, info.epochs, info.monitor, info.best_metric, info.test_metric) == \
        ("interrupted", 3, "val/acc", 61.5, None)


def test_a_runs_root_that_is_a_file_is_an_error(tmp_path):
    (tmp_path / "runs").write_text("not a folder")
    with pytest.raises(VlkitError, match="is a file, not a folder of runs"):
        list_runs(tmp_path / "runs")
