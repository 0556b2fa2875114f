"""Loading a trained run (self-contained: config, vocabularies, checkpoint) once, for evaluation and prediction.

A `Predictor` holds one loaded run and answers many requests (`vlkit <task> predict`, the web
demo); each task's Predictor subclass adds the request methods (VQA: `answer(image, question)`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import torch

from vlkit.core.config import Config, load_run_config
from vlkit.core.errors import VlkitError
from vlkit.core.module import TaskModule
from vlkit.core.task import Task


@dataclass
class TrainedRun:
    """Everything needed to use a finished run, on any device, without its dataset."""

    task: Task
    run_dir: Path
    config: Config
    vocabularies: Any
    module: TaskModule


def load_weights(module: TaskModule, checkpoint: Path) -> None:
    """Load the module weights of a Lightning checkpoint (or an imported one holding `state_dict`)."""
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    try:
        module.load_state_dict(state["state_dict"])
    except RuntimeError as error:  # names or shapes that differ from the model its config builds
        raise VlkitError(f"{checkpoint} does not fit the model its run's config.yaml builds (was it saved by another "
                         f"vlkit version, or its config edited?): {str(error).splitlines()[1].strip()}") from error


def load_run(task: Task, run_dir: Path, checkpoint: str = "best", device: str = "cpu",
             overrides: Optional[list[str]] = None) -> TrainedRun:
    """Rebuild the model of `run_dir` from `config.yaml` (with `key=value` overrides), the task's run files and
    `<checkpoint>.ckpt`."""
    for name in ("config.yaml", *task.run_files, f"{checkpoint}.ckpt"):
        if not (run_dir / name).is_file():
            raise VlkitError(f"{run_dir} is not a finished {task.title} run: {name} is missing")
    config = load_run_config(task, run_dir, overrides)
    vocabularies = task.read_run_files(run_dir)
    module = task.build_module(config, vocabularies, fresh=False)
    load_weights(module, run_dir / f"{checkpoint}.ckpt")
    module.to(device).eval()
    return TrainedRun(task, run_dir, config, vocabularies, module)


class Predictor:
    """A run loaded once (on the CPU or a GPU) that answers many requests; tasks add the request methods."""

    def __init__(self, trained: TrainedRun):
        self.trained = trained

    @classmethod
    def open(cls, task: Task, run_dir: Path, checkpoint: str = "best", device: str = "cpu") -> "Predictor":
        """Load `<checkpoint>.ckpt` of `run_dir` onto `device` and wrap it."""
        return cls(load_run(task, run_dir, checkpoint, device))

    @property
    def device(self) -> torch.device:
        return self.trained.module.device
