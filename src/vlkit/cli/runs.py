"""`vlkit runs ...`: the run directories of every task."""

from __future__ import annotations

import json

import typer

app = typer.Typer(help="Run directories.", no_args_is_help=True)


@app.command("list")
def runs_list(
    root: str = typer.Option("runs", "--root", help="runs root directory"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON object"),
) -> None:
    """List runs with their status, epochs and each run's own metrics (its task's validation monitor and
    primary test metric).

    Example: vlkit runs list --root runs
    """
    from vlkit.core.runs import list_runs

    infos = list_runs(root)
    rows = [{"path": str(i.path), "task": i.task, "status": i.status, "created": i.created, "epochs": i.epochs,
             "monitor": i.monitor, "best_val": i.best_metric, "metric": i.metric, "test": i.test_metric}
            for i in infos]
    if as_json:
        typer.echo(json.dumps({"runs": rows}))
        return
    if not rows:
        typer.echo(f"no runs under {root}")
        return
    typer.echo(f"{'created':<20} {'task':<8} {'status':<12} {'epochs':>6} {'best val':>18} {'test':>18}  path")
    for row in rows:
        best = _named_value(row["monitor"], row["best_val"])
        test = _named_value(row["metric"], row["test"])
        typer.echo(f"{row['created']:<20} {row['task']:<8} {row['status']:<12} {row['epochs']:>6} {best:>18} "
                   f"{test:>18}  {row['path']}")


def _named_value(name: str | None, value: float | None) -> str:
    """'val/acc 79.00', or '-' when the run has no such number yet."""
    return "-" if value is None else f"{name} {value:.2f}"
