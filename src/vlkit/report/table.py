"""The report's table: one row per run with its best epoch, its metrics there and on the test split, the
published number it is compared with, and overfitting. The same rows are what `vlkit report --json` prints."""

from __future__ import annotations

from typing import Any, Optional

from vlkit.report.overfitting import find_overfitting
from vlkit.report.references import published_for
from vlkit.report.runs_data import RunData, number_or_none

REPORT_INFO_KEYS = ("split", "num_questions", "predictions")


def best_epoch(run: RunData) -> tuple[Optional[int], Optional[float]]:
    """The epoch with the best value of the run's monitor (the first of equal ones, as best.ckpt keeps) and that
    value; (None, None) without a monitor or before it was logged."""
    if run.monitor is None:
        return None, None
    logged = [(value, epoch) for epoch, value in zip(*run.series(run.monitor)) if value is not None]
    if not logged:
        return None, None
    pick = max if run.monitor_mode == "max" else min
    value, epoch = pick(logged, key=lambda pair: pair[0])
    return epoch, value


def test_scalars(report: dict[str, Any]) -> dict[str, float]:
    """The numeric top-level metrics of a test report ("overall", "Bleu_4"), without counts."""
    return {key: float(value) for key, value in report.items()
            if key not in REPORT_INFO_KEYS and isinstance(value, (int, float)) and not isinstance(value, bool)}


def test_groups(report: dict[str, Any]) -> dict[str, dict[str, float]]:
    """The per-type metrics of a test report: groups of numbers by type (VQA "perAnswerType" and
    "perQuestionType", video QA "per_type"); question counts ("per_type_count") are left out."""
    return {key: {name: float(number) for name, number in value.items()}
            for key, value in report.items()
            if isinstance(value, dict) and value and not key.endswith("_count")
            and all(isinstance(number, (int, float)) and not isinstance(number, bool) for number in value.values())}


def table_row(run: RunData) -> dict[str, Any]:
    """One run's row (JSON-ready)."""
    epoch, value = best_epoch(run)
    at_best = next((row for row in run.rows if row.get("epoch") == epoch), {}) if epoch is not None else {}
    report = run.test_report
    overfitting = None
    loss_key = run.train_loss_key
    if run.monitor is not None and loss_key is not None:
        epochs, val = run.series(run.monitor)
        span = find_overfitting(epochs, val, run.series(loss_key)[1], run.monitor_mode)
        overfitting = None if span is None else {"from_epoch": span.first, "to_epoch": span.last}
    scalars = test_scalars(report)
    published = []
    for number in published_for(run.task, run.config):
        ours = scalars.get(number.metric) if report.get("split") == number.split else None
        if ours is None and number.split != "test":
            ours = value if run.monitor == number.curve else None
        published.append({"label": number.label, "metric": number.metric, "split": number.split,
                          "value": number.value, "run_value": ours,
                          "gap": None if ours is None else round(ours - number.value, 4), "source": number.source})
    return {
        "run": run.label,
        "path": str(run.path),
        "task": run.task,
        "status": run.status,
        "model": run.config.get("model.name", run.summary.get("model")),
        "dataset": run.config.get("data.dataset", run.summary.get("dataset")),
        "epochs": len(run.rows),
        "monitor": run.monitor,
        "monitor_mode": run.monitor_mode,
        "best_epoch": epoch,
        "best_val": value,
        "val_at_best": {key: float(number) for key, number in sorted(at_best.items())
                        if key.startswith("val/") and isinstance(number, (int, float))},
        "train_seconds": round(sum(number_or_none(row.get("train_seconds")) or 0.0 for row in run.rows), 1),
        "test_split": report.get("split"),
        "primary_metric": run.primary_metric,
        "test": scalars,
        "test_per_type": test_groups(report),
        "overfitting": overfitting,
        "published": published,
        "notes": list(run.notes),
    }
