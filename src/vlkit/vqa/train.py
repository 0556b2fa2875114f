"""`vlkit vqa train`: a new run (or a resumed one) from config to best checkpoint and test accuracy."""

from __future__ import annotations

import logging
import os
import statistics
from pathlib import Path
from typing import Optional

import lightning.pytorch as pl
import torch
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

from vlkit.config import save_config
from vlkit.engine import build_trainer, drop_epochs_after, read_epoch_metrics
from vlkit.errors import VlkitError
from vlkit.glove import initialise_embedding
from vlkit.runs import RUN_DIR_ENV, create_run_dir, write_json_atomic, write_metadata
from vlkit.vqa.datamodules import VQADataModule, build_datamodule
from vlkit.vqa.evaluate import evaluate_split
from vlkit.vqa.inference import load_vocabularies, save_vocabularies
from vlkit.vqa.module import VQAModule

MONITOR = "val/acc"
log = logging.getLogger("vlkit")


def train(config: DictConfig, resume_dir: Optional[Path] = None) -> Optional[dict]:
    """Train, keep best/last checkpoints, then score best.ckpt on the test split.

    Returns the run summary on global rank 0 (None on the other ranks). With `resume_dir`, training
    continues from its `last.ckpt` (the last finished epoch).
    """
    if config.trainer.threads:
        torch.set_num_threads(config.trainer.threads)
    pl.seed_everything(config.trainer.seed, workers=True, verbose=False)
    is_global_zero = rank_zero_only.rank == 0
    checkpoint_path = None
    if resume_dir is not None:
        checkpoint_path = resume_dir / "last.ckpt"
        if not checkpoint_path.is_file():
            raise VlkitError(f"cannot resume {resume_dir}: it has no last.ckpt (no epoch finished before it stopped)")
        run_dir = resume_dir
    else:
        run_dir = create_run_dir(config.run.root, config.task, config.run.name)

    saved_vocab, saved_answers = load_vocabularies(run_dir) if resume_dir is not None else (None, None)
    datamodule = build_datamodule(config.data, config.trainer.seed, saved_vocab, saved_answers)
    datamodule.setup("fit")
    if is_global_zero:
        _write_run_files(run_dir, config, datamodule, resuming=resume_dir is not None)
        if checkpoint_path is not None:
            drop_epochs_after(run_dir, torch.load(checkpoint_path, map_location="cpu", weights_only=True)["epoch"])
        log.info("run directory: %s", run_dir)

    module = VQAModule(OmegaConf.to_container(config), vocab_size=len(datamodule.vocab),
                       num_answers=len(datamodule.answers))
    if config.model.get("glove") and resume_dir is None:
        missing = initialise_embedding(module.model, datamodule.vocab, config.model.glove)
        if is_global_zero:
            log.info("word embeddings from %s; %d of %d words missing there", config.model.glove, len(missing),
                     len(datamodule.vocab))
    trainer = build_trainer(config.trainer, run_dir, monitor=MONITOR, mode="max")
    os.environ[RUN_DIR_ENV] = str(run_dir)  # DDP child processes re-run this command: same directory
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=checkpoint_path)
    except BaseException as error:
        if is_global_zero:
            write_metadata(run_dir, config.task, "failed", error=f"{type(error).__name__}: {error}")
        raise
    finally:
        os.environ.pop(RUN_DIR_ENV, None)
    if trainer.interrupted:
        if is_global_zero:
            write_metadata(run_dir, config.task, "interrupted")
        raise VlkitError(f"training interrupted; continue it with: vlkit vqa train --resume {run_dir}")
    if not trainer.is_global_zero:
        return None
    return _finish(run_dir, config, datamodule, module, trainer)


def _write_run_files(run_dir: Path, config: DictConfig, datamodule: VQADataModule, resuming: bool) -> None:
    """config.yaml, vocab.json, answers.json and run.json: what makes the run self-contained."""
    save_config(config, run_dir / "config.yaml")
    if getattr(datamodule, "check_report", None) is not None:
        write_json_atomic(run_dir / "data_check.json", datamodule.check_report)
    if not resuming:
        save_vocabularies(run_dir, datamodule.vocab, datamodule.answers)
    write_metadata(run_dir, config.task, "running")


def _finish(run_dir: Path, config: DictConfig, datamodule: VQADataModule, module: VQAModule,
            trainer: pl.Trainer) -> dict:
    """Score best.ckpt on the test split, write summary.json, mark the run finished."""
    best_path = run_dir / "best.ckpt"
    module.load_state_dict(torch.load(best_path, map_location="cpu", weights_only=True)["state_dict"])
    module.to(trainer.strategy.root_device)
    test_report = evaluate_split(module, datamodule, datamodule.test_split_name, run_dir)
    epochs = read_epoch_metrics(run_dir)
    best_epoch = max(epochs, key=lambda row: row.get(MONITOR, float("-inf")))["epoch"] if epochs else None
    summary = {
        "run_dir": str(run_dir),
        "model": config.model.name,
        "dataset": config.data.dataset,
        "best_checkpoint": str(best_path),
        "monitor": MONITOR,
        "best_val_metric": float(trainer.checkpoint_callback.best_model_score),
        "best_epoch": best_epoch,
        "epochs_trained": len(epochs),
        "train_seconds": round(sum(row["train_seconds"] for row in epochs), 1),
        "median_samples_per_second": statistics.median(row["samples_per_second"] for row in epochs) if epochs else None,
        "test": test_report,
    }
    write_json_atomic(run_dir / "summary.json", summary)
    write_metadata(run_dir, config.task, "finished")
    return summary
