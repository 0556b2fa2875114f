"""SIGTERM (a cluster stopping a job) and Ctrl-C stop training cleanly: the run is marked interrupted, keeps
last.ckpt, says how to resume, exits with 143 / 130, and the resume is recorded."""

import json
import signal
import subprocess
import sys
import time

import pytest

from conftest import invoke_cli, only_run_dir

RECIPE = ["data.batch_size=8", "trainer.max_epochs=1000", "trainer.patience=1000", "trainer.progress_bar=false",
          "trainer.threads=1", "data.train_subset=240", "data.image_size=32", "model.cnn_channels=[8,16]"]


def train_until_two_epochs_then(signum, shapes_root, work):
    process = subprocess.Popen([sys.executable, "-m", "vlkit", "vqa", "train", f"data.root={shapes_root}", *RECIPE],
                               cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 240
    while time.time() < deadline and process.poll() is None:
        rows = list(work.glob("runs/vqa/*/metrics.jsonl"))
        if rows and len(rows[0].read_text().splitlines()) >= 2:
            break
        time.sleep(0.05)
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=240)
    return process.returncode, stdout, stderr


@pytest.mark.parametrize("signum, exit_code, cause", [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGINT, 130, "Ctrl-C")])
def test_a_signal_marks_the_run_interrupted_and_says_how_to_resume(shapes_root, tmp_path, signum, exit_code, cause):
    code, stdout, stderr = train_until_two_epochs_then(signum, shapes_root, tmp_path)
    run = only_run_dir(tmp_path / "runs")
    assert code == exit_code and stdout == ""
    last_line = stderr.strip().splitlines()[-1]
    assert last_line.startswith(f"interrupted: training stopped by {cause}")
    assert last_line.endswith(f"--resume {run.relative_to(tmp_path)}")
    assert "Traceback" not in stderr
    metadata = json.loads((run / "run.json").read_text())
    assert metadata["status"] == "interrupted" and metadata["interrupted_by"] == cause
    assert (run / "last.ckpt").is_file()
    listed = json.loads(invoke_cli(["runs", "list", "--json"], cwd=tmp_path).stdout)["runs"][0]
    assert listed["status"] == "interrupted" and listed["best_val"] is not None and listed["monitor"] == "val/acc"


def test_a_resume_is_recorded_in_run_json(shapes_root, tmp_path):
    code, _, _ = train_until_two_epochs_then(signal.SIGTERM, shapes_root, tmp_path)
    run = only_run_dir(tmp_path / "runs")
    done = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])["epoch"] + 1
    invoke_cli(["vqa", "train", "--resume", str(run), f"trainer.max_epochs={done + 1}"], cwd=tmp_path)
    metadata = json.loads((run / "run.json").read_text())
    assert metadata["status"] == "finished" and len(metadata["resumes"]) == 1
    command = metadata["resumes"][0]["command"]
    assert command[command.index("--resume") + 1] == str(run)
