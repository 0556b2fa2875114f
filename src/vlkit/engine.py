"""Builds the Lightning Trainer of a run: checkpoints, early stopping, loggers, precision, devices, DDP."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint, TQDMProgressBar
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from omegaconf import DictConfig


class EpochMetricsWriter(Callback):
    """Appends one row per finished epoch to `metrics.jsonl` and `metrics.csv` in the run directory.

    Each row holds the epoch's logged metrics plus training wall time and samples per second.
    """

    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        self.epoch_start = 0.0
        self.train_seconds = 0.0
        self.samples = 0

    def on_train_epoch_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self.epoch_start = time.perf_counter()
        self.train_seconds = 0.0
        self.samples = 0

    def on_train_batch_end(self, trainer: pl.Trainer, module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        self.samples += len(batch["index"]) * trainer.world_size

    def on_validation_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        if not trainer.sanity_checking and self.train_seconds == 0.0:
            self.train_seconds = time.perf_counter() - self.epoch_start

    def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        train_seconds = self.train_seconds or time.perf_counter() - self.epoch_start
        row = {"epoch": trainer.current_epoch, "step": trainer.global_step}
        row.update({k: round(float(v), 6) for k, v in sorted(trainer.callback_metrics.items())
                    if v.numel() == 1 and not k.endswith("_step")})
        row.update(train_seconds=round(train_seconds, 2), epoch_seconds=round(time.perf_counter() - self.epoch_start, 2),
                   samples_per_second=round(self.samples / max(train_seconds, 1e-9), 1))
        with open(self.run_dir / "metrics.jsonl", "a") as jsonl:
            jsonl.write(json.dumps(row) + "\n")
        write_metrics_csv(self.run_dir)


def write_metrics_csv(run_dir: Path) -> None:
    """Rewrite `metrics.csv` from `metrics.jsonl` (the columns may grow between epochs)."""
    rows = read_epoch_metrics(run_dir)
    columns = list(dict.fromkeys(key for row in rows for key in row))
    temporary = run_dir / "metrics.csv.tmp"
    with open(temporary, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    temporary.replace(run_dir / "metrics.csv")


def read_epoch_metrics(run_dir: Path) -> list[dict]:
    """Rows of `metrics.jsonl`; a half-written last line (a killed run) is skipped."""
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def drop_epochs_after(run_dir: Path, last_finished_epoch: int) -> None:
    """On resume from a checkpoint of `last_finished_epoch`, drop metric rows of later epochs (trained again)."""
    rows = [row for row in read_epoch_metrics(run_dir) if row["epoch"] <= last_finished_epoch]
    path = run_dir / "metrics.jsonl"
    if path.is_file():
        temporary = run_dir / "metrics.jsonl.tmp"
        temporary.write_text("".join(json.dumps(row) + "\n" for row in rows))
        temporary.replace(path)
        write_metrics_csv(run_dir)


def build_trainer(trainer_config: DictConfig, run_dir: Path, monitor: str, mode: str) -> pl.Trainer:
    """A Trainer writing into `run_dir`: best.ckpt by `monitor`, last.ckpt every epoch, early stopping.

    `trainer.checkpoint_callback` is the best-checkpoint callback. last.ckpt has a callback of its
    own: Lightning's `save_last` writes only in epochs where the best checkpoint changed.
    """
    best = ModelCheckpoint(
        dirpath=run_dir, filename="best", monitor=monitor, mode=mode, save_top_k=1,
        enable_version_counter=False, auto_insert_metric_name=False,
    )
    last = ModelCheckpoint(dirpath=run_dir, filename="last", monitor=None, save_top_k=1,
                           enable_version_counter=False, auto_insert_metric_name=False)
    early_stopping = EarlyStopping(
        monitor=monitor, mode=mode, patience=trainer_config.patience, min_delta=trainer_config.min_delta
    )
    callbacks: list[Callback] = [best, last, early_stopping, EpochMetricsWriter(run_dir)]
    if trainer_config.progress_bar:
        callbacks.append(TQDMProgressBar(refresh_rate=10))
    loggers = [
        TensorBoardLogger(save_dir=run_dir, name="tensorboard", version=""),
        CSVLogger(save_dir=run_dir, name="csv"),
    ]
    return pl.Trainer(
        default_root_dir=run_dir,
        max_epochs=trainer_config.max_epochs,
        accelerator=trainer_config.accelerator,
        devices=trainer_config.devices,
        num_nodes=trainer_config.num_nodes,
        strategy=trainer_config.strategy,
        precision=trainer_config.precision,
        accumulate_grad_batches=trainer_config.accumulate_grad_batches,
        gradient_clip_val=trainer_config.gradient_clip_val,
        deterministic=trainer_config.deterministic,
        log_every_n_steps=trainer_config.log_every_n_steps,
        enable_progress_bar=trainer_config.progress_bar,
        enable_model_summary=False,
        use_distributed_sampler=False,
        num_sanity_val_steps=0,
        callbacks=callbacks,
        logger=loggers,
    )
