"""Run directories: creation (never overwriting), metadata, status, listing and lookup.

Layout of a run: `<root>/<task>/<name>-<YYYYmmdd-HHMMSS>/` holding `config.yaml`, `run.json`
(status, command, versions), `metrics.jsonl`/`metrics.csv` (one row per epoch), `tensorboard/`,
`csv/`, `best.ckpt`, `last.ckpt`, the task's vocabularies, predictions and `summary.json`.

`summary.json` names the key of its test report that is the task's primary metric
(`primary_metric`); runs written before it did (vlkit 0.1, VQA only) report theirs as "overall".
"""

from __future__ import annotations

import json
import os
import platform
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from vlkit import __version__
from vlkit.core.epoch_metrics import read_epoch_metrics
from vlkit.core.errors import VlkitError
from vlkit.core.files import write_json_atomic
from vlkit.core.slurm import restarted_by_slurm, slurm_job_id, under_slurm

RUN_DIR_ENV = "VLKIT_RUN_DIR"
PRIMARY_METRIC_BEFORE_0_2 = "overall"


def create_run_dir(root: str | Path, task: str, name: str) -> Path:
    """Make a new, empty run directory; an existing directory is never reused.

    Under a multi-process launcher (torchrun, SLURM) every process must agree on one directory:
    `VLKIT_RUN_DIR` names it when set (the Lightning DDP launcher sets it for its children);
    otherwise the launcher's job id replaces the timestamp (always under SLURM).
    """
    shared = os.environ.get(RUN_DIR_ENV)
    if shared:
        path = Path(shared)
        path.mkdir(parents=True, exist_ok=True)
        return path
    job_id = _launcher_job_id()
    base = Path(root) / task
    base.mkdir(parents=True, exist_ok=True)
    if job_id is not None:
        path = base / f"{name}-job{job_id}"
        first_process = int(os.environ.get("RANK") or os.environ.get("SLURM_PROCID") or 0) == 0
        if first_process and (path / "run.json").is_file():
            raise VlkitError(f"{path} already holds a run of job {job_id}: give each training in one job its own "
                             "run.name")
        path.mkdir(exist_ok=True)
        return path
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for attempt in range(1000):
        path = base / (f"{name}-{stamp}" if attempt == 0 else f"{name}-{stamp}-{attempt + 1}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise VlkitError(f"could not create a new run directory under {base}")


def _launcher_job_id() -> Optional[str]:
    """A job id shared by all processes of a launch: SLURM's (also for one task: a requeued job finds its
    directory again), or torchrun's when it starts several processes."""
    if under_slurm():
        return slurm_job_id()
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    value = os.environ.get("TORCHELASTIC_RUN_ID")
    return value if value and value != "none" else None


def requeued_run_dir(root: str | Path, task: str, name: str) -> Optional[Path]:
    """The run directory of this SLURM job when SLURM has requeued it and an earlier start made one."""
    if not restarted_by_slurm():
        return None
    path = Path(root) / task / f"{name}-job{slurm_job_id()}"
    return path if (path / "run.json").is_file() else None


def write_metadata(run_dir: Path, task: str, status: str, **extra: Any) -> None:
    """Create or update `run.json` (atomically)."""
    path = run_dir / "run.json"
    metadata = read_metadata(run_dir) if path.is_file() else {
        "task": task,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "command": sys.argv,
        "vlkit": __version__,
        "python": platform.python_version(),
        "host": socket.gethostname(),
    }
    metadata.update(status=status, updated=time.strftime("%Y-%m-%dT%H:%M:%S"), pid=os.getpid(), **extra)
    write_json_atomic(path, metadata)


def record_resume(run_dir: Path, checkpoint: Path) -> None:
    """Add this command, the time and the checkpoint continued from to the `resumes` list of `run.json`."""
    metadata = read_metadata(run_dir)
    resumes = list(metadata.get("resumes") or [])
    resume = {"command": sys.argv, "time": time.strftime("%Y-%m-%dT%H:%M:%S"), "host": socket.gethostname(),
              "checkpoint": checkpoint.name}
    if restarted_by_slurm():
        resume["slurm_restart_count"] = int(os.environ["SLURM_RESTART_COUNT"])
    resumes.append(resume)
    write_json_atomic(run_dir / "run.json", {**metadata, "resumes": resumes})


def read_metadata(run_dir: Path) -> dict:
    """`run.json` of a run; {} when it is missing or not a JSON object."""
    try:
        metadata = json.loads((run_dir / "run.json").read_text())
    except (OSError, ValueError):
        return {}
    return metadata if isinstance(metadata, dict) else {}


def resolve_run(run: str | Path, root: str | Path = "runs") -> Path:
    """A run directory from a path, or from a run name searched under `root/<task>/`."""
    path = Path(run)
    if path.is_dir():
        return path
    matches = sorted(Path(root).glob(f"*/{run}")) if Path(root).is_dir() else []
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise VlkitError(f"run name {run!r} matches several directories: {[str(m) for m in matches]}")
    raise VlkitError(f"run directory not found: {run} (looked for the path and under {root}/<task>/)")


@dataclass
class RunInfo:
    """One line of `vlkit runs list`."""

    path: Path
    task: str
    status: str
    created: str
    epochs: int
    monitor: Optional[str]  # the validation metric of best_metric ("val/acc")
    best_metric: Optional[float]
    metric: Optional[str]  # the test report's primary metric ("overall")
    test_metric: Optional[float]


def list_runs(root: str | Path = "runs") -> list[RunInfo]:
    """Every run under `root`, oldest first. A run whose files cannot be read is listed as unreadable."""
    if Path(root).exists() and not Path(root).is_dir():
        raise VlkitError(f"{root} is a file, not a folder of runs")
    infos = [_run_info(config.parent) for config in sorted(Path(root).glob("*/*/config.yaml"))]
    return sorted(infos, key=lambda info: (info.created, str(info.path)))


def _run_info(run_dir: Path) -> RunInfo:
    """One run's line; the best validation value of an unfinished run comes from its metrics so far."""
    try:
        metadata = _read_object(run_dir / "run.json")
        summary = _read_object(run_dir / "summary.json")
        status = effective_status(metadata)
        rows = read_epoch_metrics(run_dir)
        monitor = summary.get("monitor", metadata.get("monitor"))
        best = summary.get("best_val_metric")
        if best is None and monitor is not None:
            values = [row[monitor] for row in rows if isinstance(row.get(monitor), (int, float))]
            pick = min if metadata.get("monitor_mode") == "min" else max
            best = pick(values) if values else None
        metric = summary.get("primary_metric", PRIMARY_METRIC_BEFORE_0_2) if summary else None
        test = summary.get("test") or {}
        return RunInfo(run_dir, str(metadata.get("task", run_dir.parent.name)), status,
                       str(metadata.get("created", "")), len(rows), monitor, best, metric, test.get(metric))
    except (ValueError, TypeError, AttributeError, OSError) as error:
        return RunInfo(run_dir, run_dir.parent.name, f"unreadable ({error})"[:80], "", 0, None, None, None, None)


def _read_object(path: Path) -> dict:
    """A JSON object file of a run; {} when it does not exist; ValueError when it is not a JSON object."""
    if not path.is_file():
        return {}
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        raise ValueError(f"{path.name} holds a {type(data).__name__}, not an object")
    return data


def effective_status(metadata: dict) -> str:
    """A 'running' run whose process is gone on this host was interrupted (killed or crashed)."""
    status = metadata.get("status", "unknown")
    if not isinstance(status, str):
        raise ValueError(f"run.json has status {status!r}")
    if status == "running" and metadata.get("host") == socket.gethostname():
        try:
            os.kill(int(metadata.get("pid", -1)), 0)
        except (OSError, ValueError):
            return "interrupted"
    return status
