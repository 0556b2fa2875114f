"""Reading the runs of a report tolerantly: a finished run, one still training (what exists so far) and one
killed mid-way (no summary.json, maybe a half-written last metrics line) all give a `RunData`."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import yaml

from vlkit.core.epoch_metrics import read_epoch_metrics
from vlkit.core.errors import VlkitError
from vlkit.core.runs import (
    PRIMARY_METRIC_BEFORE_0_2,
    effective_status,
    read_metadata,
    resolve_run,
)

RUN_FILES = ("run.json", "config.yaml", "metrics.jsonl")
TRAIN_LOSS_KEYS = ("train/loss_epoch", "train/loss")


@dataclass
class RunData:
    """What a report knows of one run; every field may be missing for an unfinished or damaged run, and
    `notes` says what was missing or unreadable."""

    path: Path
    label: str  # the run's name in tables and legends (its directory name, unique in the report)
    task: str
    status: str
    metadata: dict[str, Any]
    config: dict[str, Any]  # config.yaml flattened to dotted keys ("optim.lr"); {} when unreadable
    rows: list[dict[str, Any]]  # metrics.jsonl, one row per finished epoch
    summary: dict[str, Any]
    monitor: Optional[str]
    monitor_mode: str
    notes: list[str] = field(default_factory=list)

    @property
    def test_report(self) -> dict[str, Any]:
        """The test report of summary.json ({} before the run finished)."""
        report = self.summary.get("test")
        return report if isinstance(report, dict) else {}

    @property
    def primary_metric(self) -> Optional[str]:
        """The key of the test report that is the task's primary metric; None without a summary."""
        return self.summary.get("primary_metric", PRIMARY_METRIC_BEFORE_0_2) if self.summary else None

    @property
    def train_loss_key(self) -> Optional[str]:
        """The per-epoch training loss key the run logged ("train/loss_epoch"), None if it logged none."""
        logged = {key for row in self.rows for key in row}
        return next((key for key in TRAIN_LOSS_KEYS if key in logged), None)

    def series(self, key: str) -> tuple[list[int], list[Optional[float]]]:
        """Epochs and the value of `key` at each (None where that epoch did not log it)."""
        epochs = [row["epoch"] if isinstance(row.get("epoch"), int) else i for i, row in enumerate(self.rows)]
        values = [number_or_none(row.get(key)) for row in self.rows]
        return epochs, values


def read_runs(runs: list[str], root: str | Path = "runs") -> list[RunData]:
    """The runs named by path or by name under `root`; VlkitError for a path that is not a run, a run given
    twice, or runs of different tasks (a report compares runs of one task: their metrics and configs align)."""
    if not runs:
        raise VlkitError("name at least one run directory, e.g. vlkit report runs/vqa/mcan_small-20260101-120000 "
                         "--out report")
    paths = [resolve_run(run, root) for run in runs]
    for run, path in zip(runs, paths):
        if not any((path / name).is_file() for name in RUN_FILES):
            raise VlkitError(f"{run} is not a run directory: it holds none of {', '.join(RUN_FILES)}")
    resolved = [path.resolve() for path in paths]
    twice = sorted({str(path) for path in paths if resolved.count(path.resolve()) > 1})
    if twice:
        raise VlkitError(f"run given more than once: {', '.join(twice)}")
    names = [path.name for path in paths]
    data = [read_run(path, path.name if names.count(path.name) == 1 else str(path)) for path in paths]
    tasks = sorted({run.task for run in data})
    if len(tasks) > 1:
        listed = "; ".join(f"{task}: {', '.join(run.label for run in data if run.task == task)}" for task in tasks)
        raise VlkitError(f"a report compares runs of one task, got {len(tasks)} tasks ({listed}): make one report "
                         "per task")
    return data


def read_run(path: Path, label: str) -> RunData:
    """One run's files as they are now (see `RunData`)."""
    notes: list[str] = []
    metadata = read_metadata(path)
    if not metadata:
        notes.append("run.json is missing or unreadable")
    config_tree = _read_yaml(path / "config.yaml", notes)
    summary = _read_json_object(path / "summary.json", notes)
    try:
        status = effective_status(metadata) if metadata else "unknown"
    except ValueError:
        status = "unknown"
    if not summary and status == "finished":
        notes.append("finished but summary.json is missing")
    rows = [row for row in read_epoch_metrics(path) if isinstance(row, dict)]
    if not rows:
        notes.append("no epoch finished yet (metrics.jsonl is missing or empty)")
    task = str(metadata.get("task") or config_tree.get("task") or path.parent.name)
    monitor = summary.get("monitor") or metadata.get("monitor")
    mode = str(metadata.get("monitor_mode") or "max")
    if monitor is None:
        notes.append("no validation monitor recorded (run.json or summary.json): best epoch unknown")
    return RunData(path, label, task, status, metadata, flatten(config_tree), rows, summary,
                   str(monitor) if monitor is not None else None, mode if mode in ("max", "min") else "max", notes)


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings -> one mapping with dotted keys ({"optim": {"lr": 1}} -> {"optim.lr": 1}); lists stay values."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _read_yaml(path: Path, notes: list[str]) -> dict[str, Any]:
    """A YAML mapping file; {} (and a note) when it is missing or not a mapping."""
    try:
        tree = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        notes.append(f"{path.name} is missing")
        return {}
    except (OSError, yaml.YAMLError) as error:
        notes.append(f"{path.name} is unreadable ({type(error).__name__})")
        return {}
    if not isinstance(tree, dict):
        notes.append(f"{path.name} is not a mapping")
        return {}
    return tree


def _read_json_object(path: Path, notes: list[str]) -> dict[str, Any]:
    """A JSON object file; {} when it is missing (a run not finished), {} and a note when unreadable."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        notes.append(f"{path.name} is unreadable ({type(error).__name__})")
        return {}
    if not isinstance(data, dict):
        notes.append(f"{path.name} is not a JSON object")
        return {}
    return data


def number_or_none(value: Any) -> Optional[float]:
    """A float for an int or float value (not a bool, not NaN), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return None
    return float(value)
