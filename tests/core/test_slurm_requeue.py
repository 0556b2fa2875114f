"""SLURM requeue-and-resume: SIGUSR1 saves the step in hpc_ckpt_<n>.ckpt and requeues the job (a stand-in
`scontrol` on PATH records the call); the restarted job (same job id, SLURM_RESTART_COUNT=1) continues its own run
from that step and ends with the weights of a run that was never stopped."""

import json
import os
import signal
import subprocess
import sys
import time

import torch

from conftest import invoke_cli, only_run_dir, read_jsonl

EPOCHS = 3
SLURM = {"SLURM_JOB_ID": "4242", "SLURM_JOB_NAME": "vqa", "SLURM_NTASKS": "1", "SLURM_NTASKS_PER_NODE": "1",
         "SLURM_PROCID": "0", "SLURM_LOCALID": "0", "SLURM_NODEID": "0", "SLURM_NODELIST": "localhost"}


def recipe(shapes_root):
    # 60 batches of 4 small images a epoch: long enough to signal in the middle of one
    return ["vqa", "train", f"data.root={shapes_root}", "data.batch_size=4", "data.num_workers=1", "model.dropout=0.0",
            "data.train_subset=240", "data.image_size=32", "model.cnn_channels=[8,16]", "trainer.threads=1",
            "trainer.patience=100", f"trainer.max_epochs={EPOCHS}", "trainer.progress_bar=false"]


def fake_scontrol(folder, exit_code):
    """An `scontrol` that appends its arguments to calls.txt and exits with `exit_code`."""
    folder.mkdir()
    script = folder / "scontrol"
    script.write_text(f'#!/bin/sh\necho "$@" >> "{folder}/calls.txt"\nexit {exit_code}\n')
    script.chmod(0o755)
    return {**SLURM, "PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}


def signal_mid_epoch(command, env, work):
    """Start training, send SIGUSR1 half-way through its second epoch, return (exit code, stderr)."""
    process = subprocess.Popen([sys.executable, "-m", "vlkit", *command], cwd=work, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore", **env})
    deadline = time.time() + 240
    while time.time() < deadline and process.poll() is None:
        rows = list(work.glob("runs/vqa/*/metrics.jsonl"))
        if rows and rows[0].read_text().strip():
            time.sleep(json.loads(rows[0].read_text().splitlines()[0])["epoch_seconds"] / 2)
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGUSR1)
    _, stderr = process.communicate(timeout=240)
    return process.returncode, stderr


def test_a_requeued_job_continues_from_the_signalled_step_and_ends_like_an_unbroken_run(shapes_root, tmp_path):
    (tmp_path / "unbroken").mkdir()
    invoke_cli(recipe(shapes_root), cwd=tmp_path / "unbroken")
    unbroken = only_run_dir(tmp_path / "unbroken" / "runs")
    batches_per_epoch = read_jsonl(unbroken / "metrics.jsonl")[0]["step"]

    work = tmp_path / "job"
    work.mkdir()
    env = fake_scontrol(tmp_path / "bin", exit_code=0)
    code, stderr = signal_mid_epoch(recipe(shapes_root), env, work)
    run = only_run_dir(work / "runs")
    assert run.name.endswith("-job4242")
    assert code == 128 + signal.SIGUSR1, stderr[-2000:]
    assert stderr.strip().splitlines()[-1].startswith(
        "interrupted: training stopped by the SLURM requeue signal (SIGUSR1); hpc_ckpt_1.ckpt holds the last step")
    assert (tmp_path / "bin" / "calls.txt").read_text().split() == ["requeue", "4242"]
    saved = torch.load(run / "hpc_ckpt_1.ckpt", map_location="cpu", weights_only=True)
    batches_done = saved["loops"]["fit_loop"]["state_dict"]["combined_loader"][0]["batches_done"]
    assert saved["epoch"] == 1 and 0 < batches_done < batches_per_epoch  # signalled mid-epoch
    assert json.loads((run / "run.json").read_text())["status"] == "interrupted"

    invoke_cli(recipe(shapes_root), cwd=work, env={**env, "SLURM_RESTART_COUNT": "1"})
    assert only_run_dir(work / "runs") == run  # the restarted job found its own run
    metadata = json.loads((run / "run.json").read_text())
    assert metadata["status"] == "finished"
    assert [(r["checkpoint"], r["slurm_restart_count"]) for r in metadata["resumes"]] == [("hpc_ckpt_1.ckpt", 1)]
    assert [row["epoch"] for row in read_jsonl(run / "metrics.jsonl")] == list(range(EPOCHS))
    expected = torch.load(unbroken / "last.ckpt", map_location="cpu", weights_only=True)
    resumed = torch.load(run / "last.ckpt", map_location="cpu", weights_only=True)
    assert resumed["global_step"] == expected["global_step"] == EPOCHS * batches_per_epoch
    for name, tensor in expected["state_dict"].items():
        torch.testing.assert_close(resumed["state_dict"][name], tensor, rtol=1e-6, atol=1e-7, msg=name)


def test_a_refused_requeue_saves_the_step_and_training_goes_on(shapes_root, tmp_path):
    env = fake_scontrol(tmp_path / "bin", exit_code=1)
    code, stderr = signal_mid_epoch([*recipe(shapes_root), "trainer.max_epochs=2"], env, tmp_path)
    run = only_run_dir(tmp_path / "runs")
    assert code == 0, stderr[-2000:]
    assert "scontrol requeue 4242 failed" in stderr
    assert (run / "hpc_ckpt_1.ckpt").is_file()
    assert json.loads((run / "run.json").read_text())["status"] == "finished"


def test_a_second_training_in_one_job_needs_its_own_run_name(shapes_root, tmp_path):
    env = fake_scontrol(tmp_path / "bin", exit_code=0)
    first = invoke_cli([*recipe(shapes_root), "trainer.max_epochs=1"], cwd=tmp_path, env=env)
    assert first.returncode == 0
    second = invoke_cli([*recipe(shapes_root), "trainer.max_epochs=1"], cwd=tmp_path, env=env, check=False)
    assert second.returncode == 2
    assert second.stderr.strip().splitlines()[-1].endswith("give each training in one job its own run.name")
