"""`vlkit <task> train`: a new run (or a resumed one) from a resolved config to best checkpoint and test report.

The path of a run: run directory -> data module (setup: data check, vocabularies) -> the run's own
files (config.yaml, data_check.json, vocabularies, run.json) -> the task's module -> Lightning
fit (best/last checkpoints, early stopping, per-epoch metrics) -> best.ckpt scored on the test
split -> summary.json. Every task trains through this one function.
"""

from __future__ import annotations

import contextlib
import logging
import os
import statistics
from pathlib import Path
from typing import Iterator, Optional

import lightning.pytorch as pl
import torch
from lightning.pytorch.utilities import rank_zero_only

from vlkit.core.config import Config, save_config
from vlkit.core.engine import build_trainer, run_fit
from vlkit.core.epoch_metrics import drop_epochs_after, read_epoch_metrics
from vlkit.core.errors import Interrupted, VlkitError
from vlkit.core.evaluate import predict_split, report_split
from vlkit.core.files import write_json_atomic
from vlkit.core.module import TaskModule
from vlkit.core.predictor import load_weights
from vlkit.core.runs import RUN_DIR_ENV, create_run_dir, record_resume, requeued_run_dir, write_metadata
from vlkit.core.slurm import REQUEUE_SIGNAL, newest_checkpoint
from vlkit.core.task import Task, TaskDataModule

log = logging.getLogger("vlkit")


def fit(task: Task, config: Config, resume_dir: Optional[Path] = None) -> Optional[dict]:
    """Train, keep best/last checkpoints, then score best.ckpt on the test split.

    Returns the run summary on global rank 0 (None on the other ranks). With `resume_dir`, training
    continues from its newest checkpoint: `last.ckpt` (the last finished epoch) or a newer
    `hpc_ckpt_<n>.ckpt` (a step saved for a SLURM requeue); a job that SLURM requeued continues its
    own run without `resume_dir` (`vlkit.core.slurm`). The data are read and checked before
    the run directory is made, so a data error leaves nothing behind. SIGTERM and Ctrl-C mark the
    run "interrupted" and raise `Interrupted`; any other error marks it "failed".
    """
    if config.trainer.threads:
        torch.set_num_threads(config.trainer.threads)
    pl.seed_everything(config.trainer.seed, workers=True, verbose=False)
    is_global_zero = rank_zero_only.rank == 0
    departures = task.training_departures(config)
    if resume_dir is None:
        resume_dir = requeued_run_dir(config.run.root, task.name, config.run.name)
        if resume_dir is not None:
            log.info("SLURM restarted this job: continuing %s", resume_dir)
    checkpoint_path = newest_checkpoint(resume_dir) if resume_dir is not None else None
    if resume_dir is not None and checkpoint_path is None:
        raise VlkitError(f"cannot resume {resume_dir}: it has no last.ckpt (no epoch finished before it stopped)")
    datamodule = task.build_datamodule(config, task.read_run_files(resume_dir) if resume_dir is not None else None)
    datamodule.setup("fit")
    run_dir = resume_dir or create_run_dir(config.run.root, task.name, config.run.name)
    if is_global_zero:
        _write_run_files(task, run_dir, config, datamodule, checkpoint_path, departures)
        if checkpoint_path is not None:
            drop_epochs_after(run_dir, torch.load(checkpoint_path, map_location="cpu", weights_only=True)["epoch"])
        log.info("run directory: %s", run_dir)
    os.environ[RUN_DIR_ENV] = str(run_dir)  # DDP child processes re-run this command: same directory
    try:
        module = task.build_module(config, datamodule.vocabularies, fresh=resume_dir is None)
        warn_about_slow_cpu_bf16(config)
        if config.trainer.compile:
            module.model.compile()  # in place: parameter names, hence checkpoint keys, stay as they are
        trainer = build_trainer(config.trainer, run_dir, *task.monitor_of(config))
        with float32_matmul_precision(config.trainer.matmul_precision):
            run_fit(trainer, module, datamodule, checkpoint_path)
        return _finish(task, run_dir, config, datamodule, module, trainer)
    except (Interrupted, KeyboardInterrupt) as error:
        exit_code, cause = (error.exit_code, str(error)) if isinstance(error, Interrupted) else (130, "Ctrl-C")
        requeued = exit_code == 128 + REQUEUE_SIGNAL
        if is_global_zero:
            write_metadata(run_dir, task.name, "interrupted", interrupted_by=cause)
        saved = newest_checkpoint(run_dir)
        if saved is not None and requeued:
            advice = f"{saved.name} holds the last step: SLURM restarts the job and it continues from there"
        elif saved is not None:
            held = "the last finished epoch" if saved.name == "last.ckpt" else "the last saved step"
            advice = f"{saved.name} holds {held}: continue with vlkit {task.name} train --resume {run_dir}"
        else:
            advice = f"no epoch had finished, so there is nothing to resume in {run_dir}: train again"
        raise Interrupted(f"training stopped by {cause}; {advice}", exit_code) from None
    except BaseException as error:
        if is_global_zero:
            write_metadata(run_dir, task.name, "failed", error=f"{type(error).__name__}: {error}")
        raise
    finally:
        os.environ.pop(RUN_DIR_ENV, None)


def warn_about_slow_cpu_bf16(config: Config) -> None:
    """bf16-mixed on a CPU without bf16 instructions (AVX512-BF16 or AMX) is emulated and several times slower
    than fp32 (docs/BENCHMARKS.md): say so before training starts."""
    accelerator = config.trainer.accelerator
    on_cpu = accelerator == "cpu" or (accelerator == "auto" and not torch.cuda.is_available())
    if config.trainer.precision == "bf16-mixed" and on_cpu and not torch.ops.mkldnn._is_mkldnn_bf16_supported():
        log.warning("trainer.precision=bf16-mixed: this CPU has no bf16 instructions (AVX512-BF16 or AMX), so bf16 "
                    "is emulated and slower than trainer.precision=32 here")


@contextlib.contextmanager
def float32_matmul_precision(precision: str) -> Iterator[None]:
    """fp32 matmuls (and cuDNN convolutions) at `precision` while training, "highest" again afterwards, so the
    test split is scored as `evaluate` scores it. "high" lets GPUs with TF32 (Ampere and newer) use it; it
    changes nothing on the CPU."""
    torch.set_float32_matmul_precision(precision)
    torch.backends.cudnn.allow_tf32 = precision != "highest"
    try:
        yield
    finally:
        torch.set_float32_matmul_precision("highest")
        torch.backends.cudnn.allow_tf32 = False


def _write_run_files(task: Task, run_dir: Path, config: Config, datamodule: TaskDataModule,
                     resumed_from: Optional[Path], departures: list[str]) -> None:
    """config.yaml, data_check.json, the task's vocabularies and run.json (with the run's `departures` from its
    reference): what makes the run self-contained."""
    save_config(config, run_dir / "config.yaml")
    if datamodule.check_report is not None:
        write_json_atomic(run_dir / "data_check.json", datamodule.check_report)
    if resumed_from is not None:
        record_resume(run_dir, resumed_from)
    else:
        task.write_run_files(run_dir, datamodule.vocabularies)
    extra = {"departures": departures} if departures else {}
    monitor, mode = task.monitor_of(config)
    write_metadata(run_dir, task.name, "running", monitor=monitor, monitor_mode=mode, **extra)


def _finish(task: Task, run_dir: Path, config: Config, datamodule: TaskDataModule, module: TaskModule,
            trainer: pl.Trainer) -> Optional[dict]:
    """Score best.ckpt on the test split (every rank predicts its shard), write summary.json on global rank 0,
    mark the run finished; returns the summary on global rank 0, None on the others."""
    best_path = run_dir / "best.ckpt"
    load_weights(module, best_path)
    module.to(trainer.strategy.root_device)
    predicted = predict_split(module, datamodule, datamodule.test_split_name)
    if not trainer.is_global_zero:
        return None
    test_report = report_split(datamodule, datamodule.test_split_name, predicted, run_dir)
    epochs = read_epoch_metrics(run_dir)
    monitor, mode = task.monitor_of(config)
    pick = max if mode == "max" else min
    missing = float("-inf") if mode == "max" else float("inf")
    best_epoch = pick(epochs, key=lambda row: row.get(monitor, missing))["epoch"] if epochs else None
    summary = {
        "run_dir": str(run_dir),
        "model": config.model_entry.name,
        "dataset": config.data_entry.name,
        "best_checkpoint": str(best_path),
        "monitor": monitor,
        "best_val_metric": float(trainer.checkpoint_callback.best_model_score),
        "best_epoch": best_epoch,
        "epochs_trained": len(epochs),
        "train_seconds": round(sum(row["train_seconds"] for row in epochs), 1),
        "median_samples_per_second": statistics.median(row["samples_per_second"] for row in epochs) if epochs else None,
        "primary_metric": task.primary_metric,
        "test": test_report,
    }
    write_json_atomic(run_dir / "summary.json", summary)
    write_metadata(run_dir, task.name, "finished")
    return summary
