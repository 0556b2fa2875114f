"""A run directory made from another code base's checkpoint (`vlkit <task> import`), laid out as a trained run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from vlkit.core.config import Config, save_config
from vlkit.core.errors import VlkitError
from vlkit.core.module import TaskModule
from vlkit.core.runs import write_metadata
from vlkit.core.task import Task


def check_new_run_dir(out: Path) -> None:
    """An import writes a new run directory; an existing one is never overwritten."""
    if Path(out).exists():
        raise VlkitError(f"{out} exists: a run directory is never overwritten")


def write_imported_run(task: Task, out: Path, config: Config, vocabularies: Any, module: TaskModule,
                       checkpoint: Path, **metadata: Any) -> Path:
    """Write `out` (config.yaml, the task's run files, best.ckpt with the module's weights, run.json marked
    "imported" with `source` and `metadata`), so that it evaluates and predicts like a trained run."""
    out = Path(out)
    check_new_run_dir(out)
    out.mkdir(parents=True)
    save_config(config, out / "config.yaml")
    task.write_run_files(out, vocabularies)
    torch.save({"state_dict": module.state_dict(), "imported_from": str(checkpoint)}, out / "best.ckpt")
    write_metadata(out, task.name, "imported", source=str(checkpoint), **metadata)
    return out
