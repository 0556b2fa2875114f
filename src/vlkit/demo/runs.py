"""The runs a demo serves: each named run resolved, its task found from run.json, its Predictor loaded once."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

import torch

from vlkit.core.errors import VlkitError
from vlkit.core.predictor import Predictor
from vlkit.core.runs import read_metadata, resolve_run
from vlkit.core.task import Task

# the tasks the demo has a page for: run.json's task name -> the task class
DEMO_TASKS = {"vqa": "vlkit.vqa.task:VQATask", "caption": "vlkit.caption.task:CaptionTask",
              "videoqa": "vlkit.videoqa.task:VideoQATask"}


@dataclass
class DemoRun:
    """One loaded run: its label in the page (unique), its task's name and its Predictor."""

    label: str
    task: str
    predictor: Predictor


def pick_device(device: str) -> str:
    """"auto" -> "cuda" when a GPU is there, else "cpu"; "cpu" and "cuda" as they are (cuda only with a GPU)."""
    if device not in ("auto", "cpu", "cuda"):
        raise VlkitError(f"--device must be auto, cpu or cuda, got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise VlkitError("--device cuda, but torch sees no GPU here; use --device auto or cpu")
    return ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device


def load_task(name: str) -> Task:
    """The task class registered for the demo under `name`, instantiated."""
    module, _, cls = DEMO_TASKS[name].partition(":")
    return getattr(importlib.import_module(module), cls)()


def run_task_name(run_dir: Path) -> str:
    """The task of a run directory, from its run.json."""
    name = read_metadata(run_dir).get("task")
    if name is None:
        raise VlkitError(f"{run_dir} is not a vlkit run: its run.json is missing or names no task")
    if name not in DEMO_TASKS:
        raise VlkitError(f"{run_dir} is a run of task {name!r}, which the demo has no page for "
                         f"(it shows {', '.join(DEMO_TASKS)})")
    return name


def open_demo_runs(runs: list[str], root: str | Path = "runs", checkpoint: str = "best",
                   device: str = "auto") -> list[DemoRun]:
    """Resolve and load every run once, on `device` ("auto": the GPU when there is one); a run that cannot serve
    the demo (not finished, a model that reads precomputed features) stops it before it starts, naming the run."""
    if not runs:
        raise VlkitError("name at least one run directory (or run name under --root)")
    target = pick_device(device)
    directories = [resolve_run(run, root) for run in runs]
    if len({d.resolve() for d in directories}) < len(directories):
        raise VlkitError("a run is named twice; name each run once")
    labels = _unique_labels(directories)
    loaded = []
    for label, run_dir in zip(labels, directories):
        name = run_task_name(run_dir)
        task = load_task(name)
        loaded.append(DemoRun(label, name, task.predictor_class.open(task, run_dir, checkpoint, target)))
    return loaded


def _unique_labels(directories: list[Path]) -> list[str]:
    """Each run's directory name, with its parents' names in front where two runs share a name."""
    labels = [d.name for d in directories]
    depth = 1
    while len(set(labels)) < len(labels) and depth < 8:
        depth += 1
        labels = ["/".join(d.resolve().parts[-depth:]) for d in directories]
    return labels
