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
