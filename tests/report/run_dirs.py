"""Run directories written by hand for the report tests: the files training leaves (run.json, config.yaml,
metrics.jsonl, summary.json, predictions) with known values, for finished, killed and still-running runs."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any, Optional

import yaml


def write_run(root: Path, task: str, name: str, config: dict[str, Any], rows: list[dict[str, Any]],
              status: str = "finished", monitor: str = "val/acc", mode: str = "max",
              summary: Optional[dict[str, Any]] = None, predictions: Optional[list[dict]] = None,
              torn_last_line: bool = False) -> Path:
    """A run directory `root/task/name` holding the given files; a "running" run carries this process's id and
    host (so it reads as alive); `torn_last_line` adds the half-written line a kill leaves."""
    run_dir = root / task / name
    run_dir.mkdir(parents=True)
    (run_dir / "config.yaml").write_text(yaml.safe_dump({"task": task, **config}))
    (run_dir / "run.json").write_text(json.dumps({
        "task": task, "created": "2026-01-01T12:00:00", "status": status, "monitor": monitor, "monitor_mode": mode,
        "host": socket.gethostname(), "pid": os.getpid()}))
    text = "".join(json.dumps(row) + "\n" for row in rows)
    (run_dir / "metrics.jsonl").write_text(text + ('{"epoch": 9, "val/a' if torn_last_line else ""))
    if summary is not None:
        (run_dir / "summary.json").write_text(json.dumps(summary))
    if predictions is not None:
        split = summary["test"]["split"]
        (run_dir / f"predictions_{split}.json").write_text(json.dumps(predictions))
    return run_dir


def epoch_rows(val: list[float], train_loss: list[float], key: str = "val/acc",
               extra: Optional[dict[str, list[float]]] = None) -> list[dict[str, Any]]:
    """Rows of metrics.jsonl as the engine writes them, one per epoch from 0."""
    rows = []
    for epoch, (value, loss) in enumerate(zip(val, train_loss)):
        row = {"epoch": epoch, "step": 10 * (epoch + 1), "train/loss": loss, "train/loss_epoch": loss, key: value,
               "train_seconds": 1.5, "epoch_seconds": 1.6, "samples_per_second": 100.0}
        row.update({name: values[epoch] for name, values in (extra or {}).items()})
        rows.append(row)
    return rows


def vqa_config(name: str, lr: float, model: str = "mcan_small") -> dict[str, Any]:
    """The parts of a VQA config.yaml the tests compare (two runs differ only where the arguments differ)."""
    return {"run": {"root": "runs", "name": name},
            "data": {"dataset": "vqa", "train_split": "train", "val_split": "val", "batch_size": 64},
            "model": {"name": model, "hidden_dim": 512, "layers": [6, 6]},
            "optim": {"lr": lr, "betas": [0.9, 0.98]},
            "trainer": {"max_epochs": 13, "seed": 0}}
