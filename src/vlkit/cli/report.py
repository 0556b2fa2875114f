"""`vlkit report RUN [RUN ...] --out DIR [--json]`: compare runs of one task in one HTML page with its figures."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from vlkit.cli.output import emit, progress_on_stderr
from vlkit.core.errors import VlkitError


def report_command(
    runs: list[str] = typer.Argument(..., help="run directories (or run names under --root), all of one task"),
    out: Optional[Path] = typer.Option(None, "--out", help="folder for report.html and its PNGs"),
    root: str = typer.Option("runs", "--root", help="runs root, where run names are looked up"),
    as_json: bool = typer.Option(False, "--json", help="print the table (best epochs, metrics, config "
                                                       "differences) as one JSON object"),
) -> None:
    """Compare runs of one task in one HTML page with its PNGs (--json: the table).

    Loss and metric curves per epoch on shared axes, each run's best epoch and metrics (overall and per type),
    overfitting, published numbers, config differences and, for captioning, example captions. Runs still
    training or killed are read as far as they got.

    Example: vlkit report runs/vqa/mcan_small-20260101-120000 runs/vqa/mcan_large-20260102-090000 --out report
    """
    from vlkit.report.build import report_table, write_report
    from vlkit.report.runs_data import read_runs

    if out is None and not as_json:
        raise VlkitError("give --out DIR for the HTML page (or --json for the table only)")
    data = read_runs(runs, root)
    with progress_on_stderr():
        result = write_report(data, out) if out is not None else report_table(data)
    text = f"wrote {result['html']} ({len(result['figures'])} figures)" if out is not None else ""
    emit(result, as_json, text)
