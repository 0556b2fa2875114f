"""Data parallelism is a config change: 2 CPU processes (gloo, batch B) end where 1 process (batch 2B) ends."""

import json

import torch

from conftest import invoke_cli, only_run_dir, run_cli


def common(shapes_root):
    # Adam's first steps are sign-like: a weight whose true gradient is ~0 moves by +-lr on the sign
    # of rounding noise, which differs with the all-reduce's summation order. A larger eps keeps the
    # comparison about the gradient arithmetic rather than that noise.
    return [f"data.root={shapes_root}", "model.dropout=0.0", "optim.eps=1e-4", "trainer.max_epochs=2",
            "trainer.patience=100", "trainer.threads=1", "trainer.progress_bar=false", "trainer.accelerator=cpu",
            "data.train_subset=320", "data.image_size=32", "model.cnn_channels=[8,16]"]


def test_two_process_ddp_matches_one_process_with_the_same_global_batch_and_scores_the_whole_test_split(
        shapes_root, tmp_path):
    single, ddp = tmp_path / "single", tmp_path / "ddp"
    single.mkdir()
    ddp.mkdir()
    invoke_cli(["vqa", "train", *common(shapes_root), "data.batch_size=16"], cwd=single)
    # 8 evaluation batches of 16: each process answers 4 of them
    summary = json.loads(run_cli(["vqa", "train", *common(shapes_root), "data.batch_size=8", "trainer.devices=2",
                                  "trainer.strategy=ddp", "data.eval_batch_size=16", "--json"], cwd=ddp).stdout)
    single_run, ddp_run = only_run_dir(single / "runs"), only_run_dir(ddp / "runs")
    assert summary["run_dir"] == str(ddp_run.relative_to(ddp))  # both processes wrote into one run
    one = torch.load(single_run / "last.ckpt", map_location="cpu", weights_only=True)
    two = torch.load(ddp_run / "last.ckpt", map_location="cpu", weights_only=True)
    assert one["global_step"] == two["global_step"] > 0
    assert one["state_dict"].keys() == two["state_dict"].keys()
    for name, weights in one["state_dict"].items():
        torch.testing.assert_close(two["state_dict"][name], weights, rtol=1e-4, atol=2e-5, msg=name)
    metrics = [json.loads(line) for line in (ddp_run / "metrics.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in metrics] == [0, 1]  # rank 0 alone writes the metrics
    # the test split is answered by both processes, each its shard: together every question, once
    alone = json.loads(invoke_cli(["vqa", "evaluate", str(ddp_run), "--split", "test", "--json"], cwd=ddp).stdout)
    assert summary["test"]["num_questions"] == alone["num_questions"] == 120
    assert summary["test"]["overall"] == alone["overall"]
    assert summary["test"]["perAnswerType"] == alone["perAnswerType"]


def test_gradient_accumulation_matches_the_larger_batch_and_bf16_trains(shapes_root, tmp_path):
    full, accumulated = tmp_path / "full", tmp_path / "accumulated"
    full.mkdir()
    accumulated.mkdir()
    invoke_cli(["vqa", "train", *common(shapes_root), "data.batch_size=16"], cwd=full)
    invoke_cli(["vqa", "train", *common(shapes_root), "data.batch_size=8", "trainer.accumulate_grad_batches=2"],
               cwd=accumulated)
    one = torch.load(only_run_dir(full / "runs") / "last.ckpt", map_location="cpu", weights_only=True)
    two = torch.load(only_run_dir(accumulated / "runs") / "last.ckpt", map_location="cpu", weights_only=True)
    assert one["global_step"] == two["global_step"] > 0  # optimizer steps, not micro-batches
    for name, weights in one["state_dict"].items():
        torch.testing.assert_close(two["state_dict"][name], weights, rtol=1e-4, atol=2e-5, msg=name)

    mixed = tmp_path / "bf16"
    mixed.mkdir()
    summary = json.loads(invoke_cli(["vqa", "train", *common(shapes_root), "trainer.max_epochs=1",
                                     "trainer.precision=bf16-mixed", "--json"], cwd=mixed).stdout)
    assert summary["test"]["num_questions"] == 120
    config = (mixed / summary["run_dir"] / "config.yaml").read_text()
    assert "precision: bf16-mixed" in config
