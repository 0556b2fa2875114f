"""SLURM requeue-and-resume: a checkpoint at the warning signal, `scontrol requeue`, and the restarted job continuing.

The scheme is Lightning's SLURM auto-requeue (`SLURMEnvironment(auto_requeue=True)`): the job asks
SLURM for a warning signal before its time limit (`#SBATCH --signal=SIGUSR1@90`, `--requeue`); on
that signal the trainer saves `hpc_ckpt_<n>.ckpt` in the run directory and requeues the job; the
restarted job (same job id, `SLURM_RESTART_COUNT` >= 1) continues from the newest checkpoint.

vlkit does the saving itself, because Lightning saves inside the signal handler, which may run
between two tensor updates of an optimizer step and so save a half-updated state. Here the signal
only sets a flag; the checkpoint is written at the end of the current training step (all DDP ranks
agree on the step), so a restarted job continues exactly where the saved one stopped.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
from pathlib import Path
from typing import Any, Optional

import lightning.pytorch as pl
from lightning.fabric.plugins.environments import SLURMEnvironment

from vlkit.core.errors import Interrupted
from vlkit.core.signal_requests import SignalRequest

log = logging.getLogger("vlkit")

REQUEUE_SIGNAL = signal.SIGUSR1
HPC_CHECKPOINT_PATTERN = re.compile(r"hpc_ckpt_(\d+)\.ckpt")


def under_slurm() -> bool:
    """True when Lightning would treat this process as a SLURM task (not an interactive `bash` allocation)."""
    return "SLURM_NTASKS" in os.environ and os.environ.get("SLURM_JOB_NAME") not in ("bash", "interactive")


def slurm_job_id() -> Optional[str]:
    """The job id `scontrol requeue` takes: `<array job>_<task>` for an array task, else SLURM_JOB_ID."""
    array_job = os.environ.get("SLURM_ARRAY_JOB_ID")
    if array_job is not None and "SLURM_ARRAY_TASK_ID" in os.environ:
        return f"{array_job}_{os.environ['SLURM_ARRAY_TASK_ID']}"
    return os.environ.get("SLURM_JOB_ID")


def restarted_by_slurm() -> bool:
    """True in a job that SLURM has requeued and started again."""
    return under_slurm() and int(os.environ.get("SLURM_RESTART_COUNT", "0") or 0) > 0


def newest_checkpoint(run_dir: Path) -> Optional[Path]:
    """The checkpoint to continue a run from: the newer of last.ckpt (end of an epoch) and the highest hpc_ckpt_<n>."""
    numbered = [(int(match.group(1)), path) for path in run_dir.glob("hpc_ckpt_*.ckpt")
                if (match := HPC_CHECKPOINT_PATTERN.fullmatch(path.name))]
    candidates = [path for path in (run_dir / "last.ckpt",) if path.is_file()]
    if numbered:
        candidates.append(max(numbered)[1])
    return max(candidates, key=lambda path: path.stat().st_mtime_ns) if candidates else None


def next_hpc_checkpoint(run_dir: Path) -> Path:
    """hpc_ckpt_<n+1>.ckpt after the highest one in `run_dir` (Lightning's numbering)."""
    numbers = [int(match.group(1)) for path in run_dir.glob("hpc_ckpt_*.ckpt")
               if (match := HPC_CHECKPOINT_PATTERN.fullmatch(path.name))]
    return run_dir / f"hpc_ckpt_{max(numbers, default=0) + 1}.ckpt"


def slurm_plugins() -> list[Any]:
    """Trainer plugins: under SLURM, Lightning's environment without its own requeue handler (vlkit's replaces it)."""
    return [SLURMEnvironment(auto_requeue=False)] if under_slurm() else []


class SlurmRequeue(SignalRequest):
    """On SIGUSR1 under SLURM: at the end of the current step save hpc_ckpt_<n>.ckpt, requeue the job and stop.

    Stopping raises `Interrupted` (exit status 138), which marks the run interrupted; SLURM then
    starts the job again and `vlkit <task> train` continues from the saved step. When the requeue
    is refused (a job submitted without `--requeue`), training goes on and the checkpoint stays
    for `--resume`.
    """

    signum = REQUEUE_SIGNAL

    def __init__(self, run_dir: Path):
        super().__init__()
        self.run_dir = run_dir

    def on_train_batch_end(self, trainer: pl.Trainer, module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if not self.agreed(trainer):
            return
        self.requested = False
        path = next_hpc_checkpoint(self.run_dir)
        trainer.save_checkpoint(path)
        log.info("saved %s at step %d for the SLURM requeue", path.name, trainer.global_step)
        requeued = _requeue(slurm_job_id()) if trainer.is_global_zero else False
        if trainer.world_size > 1:
            requeued = trainer.strategy.broadcast(requeued, src=0)
        if requeued:
            raise Interrupted(f"the SLURM requeue signal ({REQUEUE_SIGNAL.name})", 128 + REQUEUE_SIGNAL)


def _requeue(job_id: Optional[str]) -> bool:
    """`scontrol requeue JOB`; False (with a warning) when it cannot be done."""
    if job_id is None:
        log.warning("SLURM requeue signal received, but SLURM_JOB_ID is not set: training goes on")
        return False
    try:
        result = subprocess.run(["scontrol", "requeue", job_id], capture_output=True, text=True, check=False)
    except OSError as error:
        log.warning("could not run scontrol requeue %s (%s): training goes on; the checkpoint stays for --resume",
                    job_id, error)
        return False
    if result.returncode != 0:
        log.warning("scontrol requeue %s failed (%s): training goes on; the checkpoint stays for --resume",
                    job_id, result.stderr.strip() or f"exit status {result.returncode}")
        return False
    log.info("requeued SLURM job %s", job_id)
    return True
