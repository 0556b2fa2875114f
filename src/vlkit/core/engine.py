"""Builds the Lightning Trainer of a run: checkpoints, early stopping, loggers, precision, devices, DDP, SLURM."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from typing import Any, Optional

import lightning.pytorch as pl
from lightning.pytorch.callbacks import (
    Callback,
    EarlyStopping,
    ModelCheckpoint,
    TQDMProgressBar,
)
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from lightning.pytorch.trainer.states import TrainerStatus
from lightning.pytorch.utilities.exceptions import SIGTERMException

from vlkit.core.config_sections import TrainerConfig
from vlkit.core.epoch_metrics import append_epoch
from vlkit.core.errors import Interrupted
from vlkit.core.sampling import ResumableLoader, batch_size
from vlkit.core.signal_requests import StopOnCtrlC
from vlkit.core.slurm import SlurmRequeue, slurm_plugins, under_slurm


class EpochMetricsWriter(Callback):
    """Appends one row per finished epoch to the run's metrics (`vlkit.core.epoch_metrics`).

    Each row holds the epoch's logged metrics plus training wall time and samples per second.
    """

    def __init__(self, run_dir: Path):
        self.run_dir = run_dir
        self.epoch_start = 0.0
        self.train_seconds = 0.0
        self.samples = 0

    def on_train_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self.on_train_epoch_start(trainer, module)  # a run resumed mid-epoch gets no on_train_epoch_start

    def on_train_epoch_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self.epoch_start = time.perf_counter()
        self.train_seconds = 0.0
        self.samples = 0

    def on_train_batch_end(self, trainer: pl.Trainer, module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        self.samples += batch_size(batch) * trainer.world_size

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
        append_epoch(self.run_dir, row)


class TrainLoaderPlace(Callback):
    """Counts the batches the training loop has finished this epoch on the `ResumableLoader`, for checkpoints."""

    def on_train_batch_end(self, trainer: pl.Trainer, module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        loader = trainer.train_dataloader
        if isinstance(loader, ResumableLoader):
            loader.batches_done += 1


def build_trainer(trainer_config: TrainerConfig, run_dir: Path, monitor: str, mode: str) -> pl.Trainer:
    """A Trainer writing into `run_dir`: best.ckpt by `monitor`, last.ckpt every epoch, early stopping;
    under SLURM, hpc_ckpt_<n>.ckpt and a requeue on SIGUSR1 (`vlkit.core.slurm`).

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
    callbacks: list[Callback] = [best, last, early_stopping, EpochMetricsWriter(run_dir), TrainLoaderPlace(),
                                 StopOnCtrlC()]
    if under_slurm():
        callbacks.append(SlurmRequeue(run_dir))
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
        gradient_clip_algorithm=trainer_config.gradient_clip_algorithm,
        deterministic=trainer_config.deterministic,
        log_every_n_steps=trainer_config.log_every_n_steps,
        enable_progress_bar=trainer_config.progress_bar,
        enable_model_summary=False,
        use_distributed_sampler=False,
        num_sanity_val_steps=0,
        callbacks=callbacks,
        logger=loggers,
        plugins=slurm_plugins(),
    )


def run_fit(trainer: pl.Trainer, module: pl.LightningModule, datamodule: pl.LightningDataModule,
            checkpoint_path: Optional[Path]) -> None:
    """`trainer.fit`, with Lightning's ways of stopping on a signal turned into `Interrupted`.

    During fit Lightning handles SIGTERM itself (it finishes the step, stops the DDP processes and
    raises SIGTERMException); the SIGTERM handler in place before is set aside meanwhile, so that it
    does not stop the step half-way. Ctrl-C stops after the current batch (`StopOnCtrlC`); a second
    Ctrl-C, or one before fit has started, makes Lightning shut down and exit with status 1.
    """
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM)
    if in_main_thread:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=checkpoint_path)
    except SIGTERMException:
        raise Interrupted("SIGTERM", 128 + signal.SIGTERM) from None
    except SystemExit:
        if trainer.state.status == TrainerStatus.INTERRUPTED:
            raise Interrupted("Ctrl-C", 128 + signal.SIGINT) from None
        raise
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
