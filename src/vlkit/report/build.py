"""`vlkit report`: the comparison of a task's runs as a table (JSON-ready) and as one HTML page with its PNGs."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from vlkit.core.errors import VlkitError
from vlkit.core.files import write_text_atomic
from vlkit.report.caption_examples import caption_examples
from vlkit.report.config_diff import config_differences
from vlkit.report.html_page import render_page
from vlkit.report.plots import (
    metric_keys,
    plot_group,
    plot_losses,
    plot_metric,
    save_image,
    slug,
)
from vlkit.report.references import published_for
from vlkit.report.runs_data import RunData
from vlkit.report.table import table_row

PAGE = "report.html"


def report_table(runs: list[RunData]) -> dict[str, Any]:
    """{"task", "runs": one row per run (`table.table_row`), "config_differences": {key: [value per run]}}."""
    return {"task": runs[0].task, "runs": [table_row(run) for run in runs],
            "config_differences": config_differences([run.config for run in runs])}


def write_report(runs: list[RunData], out: Path) -> dict[str, Any]:
    """Write `out/report.html` and its PNGs (made or replaced; other files in `out` are left alone); returns the
    table of `report_table` with "html" (the page) and "figures" (the PNG paths)."""
    if out.exists() and not out.is_dir():
        raise VlkitError(f"--out {out} is a file: give a folder for the page and its figures")
    out.mkdir(parents=True, exist_ok=True)
    table = report_table(runs)
    rows = table["runs"]
    figures: list[str] = []
    curve_files = _curve_figures(runs, rows, out, figures)
    group_files = _group_figures(rows, out, figures)
    examples = _example_figures(runs, out, figures)
    title = f"vlkit report: {len(runs)} {runs[0].task} run{'s' if len(runs) > 1 else ''}"
    page = out / PAGE
    write_text_atomic(page, render_page(title, rows, table["config_differences"], curve_files, group_files, examples))
    return {**table, "html": str(page), "figures": [str(out / name) for name in figures]}


def _curve_figures(runs: list[RunData], rows: list[dict], out: Path, figures: list[str]) -> list[str]:
    """The loss figure and one figure per metric key; their file names."""
    names = []
    if plot_losses(runs, out / "curve_loss.png"):
        names.append("curve_loss.png")
    best = {row["run"]: (row["best_epoch"], row["best_val"]) for row in rows}
    spans = {row["run"]: (row["overfitting"]["from_epoch"], row["overfitting"]["to_epoch"]) if row["overfitting"]
             else None for row in rows}
    published = list({number: None for run in runs for number in published_for(run.task, run.config)})
    for key in metric_keys(runs):
        name = _unique(f"curve_{slug(key)}.png", names)
        if plot_metric(runs, key, best, spans, published, out / name):
            names.append(name)
    figures.extend(names)
    return names


def _group_figures(rows: list[dict], out: Path, figures: list[str]) -> dict[str, str]:
    """One bar chart per per-type group of the test reports; {group: file name}."""
    groups = list(dict.fromkeys(group for row in rows for group in row["test_per_type"]))
    files: dict[str, str] = {}
    for group in groups:
        values = {row["run"]: row["test_per_type"][group] for row in rows if group in row["test_per_type"]}
        name = _unique(f"test_{slug(group)}.png", list(files.values()))
        plot_group(group, values, out / name)
        files[group] = name
    figures.extend(files.values())
    return files


def _example_figures(runs: list[RunData], out: Path, figures: list[str]) -> dict[str, tuple[Any, list[Optional[str]]]]:
    """Captioning runs: the example images as PNGs; {run label: (CaptionExamples, file name or None each)}."""
    examples = {}
    for index, run in enumerate(runs):
        found = caption_examples(run)
        if found is None:
            continue
        files: list[Optional[str]] = []
        for position, image in enumerate(found.images):
            if image is None:
                files.append(None)
                continue
            name = f"example_run{index + 1}_{position + 1}.png"
            save_image(image, out / name)
            files.append(name)
            figures.append(name)
        examples[run.label] = (found, files)
    return examples


def _unique(name: str, taken: list[str]) -> str:
    """`name`, or `name` with a number before its suffix when another figure already has it."""
    if name not in taken:
        return name
    stem = name.removesuffix(".png")
    return next(f"{stem}_{i}.png" for i in range(2, len(taken) + 2) if f"{stem}_{i}.png" not in taken)
