"""A run killed with SIGKILL mid-epoch continues from last.ckpt and ends where an unbroken run ends."""

import json
import os
import signal
import subprocess
import sys
import time

import torch

from conftest import invoke_cli, only_run_dir, read_jsonl

EPOCHS = 6


def recipe(shapes_root, max_epochs):
    return [f"data.root={shapes_root}", "data.batch_size=8", "model.dropout=0.0", "trainer.threads=1",
            "data.train_subset=240", "data.image_size=32", "model.cnn_channels=[8,16]",
            "trainer.patience=100", f"trainer.max_epochs={max_epochs}", "trainer.progress_bar=false"]


def final_weights(run_dir):
    return torch.load(run_dir / "last.ckpt", map_location="cpu", weights_only=True)["state_dict"]


def test_resume_after_sigkill_matches_an_uninterrupted_run(shapes_root, tmp_path):
    (tmp_path / "a").mkdir()
    invoke_cli(["vqa", "train", *recipe(shapes_root, EPOCHS)], cwd=tmp_path / "a")
    reference = only_run_dir(tmp_path / "a" / "runs")

    work = tmp_path / "b"
    work.mkdir()
    process = subprocess.Popen([sys.executable, "-m", "vlkit", "vqa", "train", *recipe(shapes_root, 1000)],
                               cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.time() + 240
    metrics = None
    while time.time() < deadline and process.poll() is None:
        runs = list((work / "runs" / "vqa").glob("*/metrics.jsonl")) if (work / "runs").exists() else []
        if runs and len(runs[0].read_text().splitlines()) >= 3:  # last.ckpt is written just after a row
            metrics = runs[0]
            break
        time.sleep(0.02)
    assert metrics is not None, "the run never finished three epochs"
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed = only_run_dir(work / "runs")
    last_finished = torch.load(killed / "last.ckpt", map_location="cpu", weights_only=True)["epoch"]
    assert 1 <= last_finished < EPOCHS - 1
    listing = json.loads(invoke_cli(["runs", "list", "--json"], cwd=work).stdout)["runs"]
    assert listing[0]["status"] == "interrupted"

    invoke_cli(["vqa", "train", "--resume", str(killed), f"trainer.max_epochs={EPOCHS}"], cwd=work)
    rows = read_jsonl(killed / "metrics.jsonl")
    assert [row["epoch"] for row in rows] == list(range(EPOCHS))  # nothing lost, nothing counted twice
    steps = [row["step"] for row in rows]
    assert all(b - a == steps[0] for a, b in zip(steps, steps[1:]))
    assert json.loads((killed / "run.json").read_text())["status"] == "finished"
    assert (killed / "summary.json").is_file()
    expected, resumed = final_weights(reference), final_weights(killed)
    # last.ckpt follows every epoch, also the epochs where validation accuracy did not improve
    assert torch.load(reference / "last.ckpt", map_location="cpu", weights_only=True)["epoch"] == EPOCHS - 1
    assert expected.keys() == resumed.keys()
    for name in expected:
        torch.testing.assert_close(resumed[name], expected[name], rtol=1e-5, atol=1e-6, msg=name)


def test_resume_without_a_finished_epoch_says_so(tmp_path):
    run = tmp_path / "runs" / "vqa" / "empty"
    run.mkdir(parents=True)
    (run / "config.yaml").write_text("task: vqa\n")
    result = invoke_cli(["vqa", "train", "--resume", str(run)], cwd=tmp_path, check=False)
    assert result.returncode == 2 and "no last.ckpt" in result.stderr
