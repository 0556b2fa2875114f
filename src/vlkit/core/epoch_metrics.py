"""A run's per-epoch metrics: `metrics.jsonl` (one JSON row per finished epoch) and `metrics.csv` (the same rows)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from vlkit.core.files import replacing, write_text_atomic

JSONL = "metrics.jsonl"
CSV = "metrics.csv"


def append_epoch(run_dir: Path, row: dict) -> None:
    """Add one epoch's row to metrics.jsonl and rewrite metrics.csv from it."""
    with open(run_dir / JSONL, "a") as jsonl:
        jsonl.write(json.dumps(row) + "\n")
    _write_csv(run_dir, read_epoch_metrics(run_dir))


def read_epoch_metrics(run_dir: Path) -> list[dict]:
    """Rows of `metrics.jsonl`; a half-written last line (a killed run) is skipped."""
    path = run_dir / JSONL
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
    if not (run_dir / JSONL).is_file():
        return
    rows = [row for row in read_epoch_metrics(run_dir) if row["epoch"] <= last_finished_epoch]
    write_text_atomic(run_dir / JSONL, "".join(json.dumps(row) + "\n" for row in rows))
    _write_csv(run_dir, rows)


def _write_csv(run_dir: Path, rows: list[dict]) -> None:
    """Rewrite `metrics.csv` from the rows (the columns may grow between epochs)."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with replacing(run_dir / CSV) as temporary, open(temporary, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
