"""`vlkit <task> train` and `vlkit <task> evaluate`, written once and added to every task's command group."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

import typer

from vlkit.cli.output import emit, progress_on_stderr
from vlkit.core.errors import VlkitError

if TYPE_CHECKING:
    from vlkit.core.task import Task


def add_train_and_evaluate(app: typer.Typer, load_task: Callable[[], "Task"], *, train_help: str,
                           evaluate_help: str, split_help: str) -> None:
    """Add `train` and `evaluate` to `app`; `load_task` imports the task package when a command runs.

    The help texts end with an `Example:` line each.
    """

    @app.command("train", help=train_help)
    def train(
        overrides: Optional[list[str]] = typer.Argument(None, help="key=value config overrides", show_default=False),
        config: Optional[Path] = typer.Option(None, "--config", "-c", help="YAML recipe (default: the embedded one)"),
        resume: Optional[str] = typer.Option(None, "--resume", help="continue this run from its last.ckpt"),
        runs_root: str = typer.Option("runs", "--runs-root", help="where --resume looks for a run name"),
        as_json: bool = typer.Option(False, "--json", help="print the run summary as one JSON object"),
    ) -> None:
        from vlkit.core.config import load_config, load_run_config
        from vlkit.core.fit import fit
        from vlkit.core.runs import resolve_run

        task = load_task()
        resume_dir = resolve_run(resume, runs_root) if resume else None
        if resume_dir is not None and config is not None:
            raise VlkitError("--resume uses the run's own config.yaml; pass changes as key=value overrides instead")
        if resume_dir is not None:
            resolved = load_run_config(task, resume_dir, overrides or [])
        else:
            resolved = load_config(task, config, overrides or [])
        with progress_on_stderr():
            summary = fit(task, resolved, resume_dir)
        if summary is not None:
            best_epoch = "" if summary["best_epoch"] is None else \
                f" (epoch {summary['best_epoch'] + 1} of {summary['epochs_trained']}, counted from 1)"
            emit(summary, as_json, f"run: {summary['run_dir']}\nbest {summary['monitor']} "
                                   f"{summary['best_val_metric']:.2f}{best_epoch}\n{task.format_report(summary['test'])}")

    @app.command("evaluate", help=evaluate_help)
    def evaluate(
        run: str = typer.Argument(..., help="run directory (or run name under --runs-root)"),
        split: Optional[str] = typer.Option(None, "--split", help=split_help),
        checkpoint: str = typer.Option("best", "--checkpoint", help="best | last"),
        overrides: Optional[list[str]] = typer.Argument(None, help="data.* overrides, e.g. data.root=DIR "
                                                                "(captioning: also decoding.*)"),
        results_out: Optional[Path] = typer.Option(None, "--results-out",
                                                   help="also write the predictions here (VQA: EvalAI results)"),
        runs_root: str = typer.Option("runs", "--runs-root"),
        as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
    ) -> None:
        from vlkit.core.evaluate import evaluate_run
        from vlkit.core.runs import resolve_run

        task = load_task()
        with progress_on_stderr():
            report = evaluate_run(task, resolve_run(run, runs_root), split, checkpoint, overrides or [], results_out)
        emit(report, as_json, task.format_report(report))
