"""`vlkit <task> evaluate`: answer a split with a trained run, write the predictions, score them where answers exist."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import torch

from vlkit.core.errors import VlkitError
from vlkit.core.files import write_json_atomic
from vlkit.core.module import TaskModule
from vlkit.core.predictions import predict_loader
from vlkit.core.predictor import load_run
from vlkit.core.task import Task, TaskDataModule


def predict_split(module: TaskModule, datamodule: TaskDataModule, split: str) -> torch.Tensor:
    """Predictions (N, ...) of every item of `split`; under DDP every rank calls it and gets them all."""
    return predict_loader(module, datamodule.loader(split), datamodule.split_size(split), f"answering {split}")


def report_split(datamodule: TaskDataModule, split: str, predicted: torch.Tensor, run_dir: Path,
                 results_out: Optional[Path] = None) -> dict:
    """Write the predictions of `split` and score them when the split has answers.

    Writes `<run_dir>/predictions_<split>.json` (the data module's rows, e.g. VQA's EvalAI results
    format [{question_id, answer}]) and, with `results_out`, the same rows there. Returns
    {"split", "num_questions", "predictions"} plus, for annotated splits, the score report.
    """
    rows = datamodule.prediction_rows(split, predicted)
    predictions_path = run_dir / f"predictions_{split}.json"
    write_json_atomic(predictions_path, rows)
    if results_out is not None:
        write_json_atomic(Path(results_out), rows)
    report = {"split": split, "num_questions": len(rows), "predictions": str(predictions_path)}
    if datamodule.has_answers(split):
        report.update(datamodule.score(split, predicted))
    return report


def evaluate_run(task: Task, run_dir: Path, split: Optional[str] = None, checkpoint: str = "best",
                 overrides: Optional[list[str]] = None, results_out: Optional[Path] = None) -> dict:
    """Evaluate `<checkpoint>.ckpt` of a run on `split` (default: the run's test split).

    `overrides` (`section.key=value` in the task's `evaluation_sections`) point the run at its data
    elsewhere (e.g. data.root=DIR) or, for captioning, change the beam search (decoding.beam_size=5).
    """
    allowed = task.evaluation_sections
    bad = [item for item in overrides or [] if item.split(".", 1)[0] not in allowed]
    if bad:
        raise VlkitError(f"evaluate takes only {' and '.join(f'{name}.*' for name in allowed)} overrides, got {bad}")
    trained = load_run(task, run_dir, checkpoint, overrides=overrides)
    datamodule = task.build_datamodule(trained.config, trained.vocabularies)
    split = split or datamodule.test_split_name
    return report_split(datamodule, split, predict_split(trained.module, datamodule, split), run_dir, results_out)
