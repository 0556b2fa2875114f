"""The report's figures as PNG files (matplotlib figures rendered by Agg, no pyplot state): loss and metric curves
per epoch with every run on shared axes, per-type bar charts, and example images."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from vlkit.report.references import PublishedNumber
from vlkit.report.runs_data import TRAIN_LOSS_KEYS, RunData

COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")


def colour(index: int) -> str:
    """The colour of the run at `index` in every figure."""
    return COLOURS[index % len(COLOURS)]


def slug(text: str) -> str:
    """A file-name-safe form of a metric name ("val/acc_yes_no" -> "val_acc_yes_no")."""
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_") or "metric"


def is_loss(key: str) -> bool:
    """Whether a per-epoch key is a loss (drawn in the loss figure)."""
    return key in TRAIN_LOSS_KEYS or (key.startswith("val/") and "loss" in key)


def metric_keys(runs: list[RunData]) -> list[str]:
    """Per-epoch metric keys to draw, one figure each: the runs' monitors, then other validation metrics, then
    training metrics other than the loss; per-step values ("_step") are left out."""
    logged = list(dict.fromkeys(key for run in runs for row in run.rows for key in row))
    metrics = [key for key in logged if key.startswith(("val/", "train/")) and not is_loss(key)
               and not key.endswith("_step")]
    monitors = list(dict.fromkeys(run.monitor for run in runs if run.monitor in metrics))
    rest = [key for key in metrics if key not in monitors]
    return monitors + sorted(key for key in rest if key.startswith("val/")) + sorted(
        key for key in rest if key.startswith("train/"))


def plot_losses(runs: list[RunData], path: Path) -> bool:
    """Training loss (solid) and validation losses (dashed) per epoch of every run; False (nothing written) when
    no run logged a loss."""
    figure, axes = _figure(7.0, 4.0)
    drawn = False
    for index, run in enumerate(runs):
        keys = [run.train_loss_key] if run.train_loss_key else []
        keys += sorted({key for row in run.rows for key in row if key.startswith("val/") and is_loss(key)})
        for key in keys:
            style = "-" if key.startswith("train/") else "--"
            drawn |= _line(axes, run, key, colour(index), f"{run.label} {key}", style)
    if not drawn:
        return False
    _finish(figure, axes, "loss per epoch", "loss", path)
    return True


def plot_metric(runs: list[RunData], key: str, best: dict[str, tuple[Optional[int], Optional[float]]],
                overfitting: dict[str, Optional[tuple[int, int]]], published: list[PublishedNumber],
                path: Path) -> bool:
    """One metric per epoch for every run that logged it; on a run's monitor its best epoch is starred and a
    span of overfitting shaded; `published` numbers drawn on this key are horizontal lines. False when no run
    logged `key`."""
    figure, axes = _figure(7.0, 4.0)
    drawn = False
    for index, run in enumerate(runs):
        if not _line(axes, run, key, colour(index), run.label, "-"):
            continue
        drawn = True
        if key != run.monitor:
            continue
        epoch, value = best.get(run.label, (None, None))
        if epoch is not None:
            axes.plot([epoch], [value], marker="*", markersize=14, color=colour(index), linestyle="none",
                      label=f"{run.label} best (epoch {epoch})")
        span = overfitting.get(run.label)
        if span is not None:
            axes.axvspan(span[0], span[1], color=colour(index), alpha=0.12, label=f"{run.label} overfitting")
    if not drawn:
        return False
    for number in published:
        if number.curve == key:
            axes.axhline(number.value, color="black", linestyle=":", linewidth=1.2,
                         label=f"published: {number.label} {number.value:g}")
    _finish(figure, axes, f"{key} per epoch", key, path)
    return True


def plot_group(group: str, values: dict[str, dict[str, float]], path: Path) -> None:
    """Horizontal bars of one per-type group of test metrics ({run label: {type: value}}), one bar per run
    within each type."""
    types = list(dict.fromkeys(name for per_run in values.values() for name in per_run))
    runs = list(values)
    height = max(2.5, 0.28 * len(types) * max(1, len(runs)) + 1.2)
    figure, axes = _figure(7.0, min(height, 40.0))
    bar = 0.8 / len(runs)
    positions = np.arange(len(types))
    for index, run in enumerate(runs):
        numbers = [values[run].get(name, np.nan) for name in types]
        axes.barh(positions + index * bar, numbers, height=bar, color=colour(index), label=run)
    axes.set_yticks(positions + bar * (len(runs) - 1) / 2, labels=types)
    axes.invert_yaxis()
    axes.set_xlabel(group)
    axes.set_title(f"test {group}")
    axes.grid(axis="x", alpha=0.3)
    axes.legend(fontsize=8, loc="best")
    _save(figure, path)


def save_image(image: np.ndarray, path: Path) -> None:
    """One image (3, S, S) or (S, S, 3) uint8 as a PNG of its own size (up to 256 px across)."""
    pixels = np.transpose(image, (1, 2, 0)) if image.ndim == 3 and image.shape[0] == 3 else image
    inches = min(pixels.shape[1], 256) / 100.0
    figure = Figure(figsize=(inches, inches * pixels.shape[0] / pixels.shape[1]), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_axes((0.0, 0.0, 1.0, 1.0))
    axes.imshow(pixels)
    axes.axis("off")
    figure.savefig(path)


def _figure(width: float, height: float):
    """A new figure with one axes, rendered by Agg."""
    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot()


def _line(axes, run: RunData, key: str, line_colour: str, label: str, style: str) -> bool:
    """Draw `key` of `run` per epoch (points where it was logged); False when the run never logged it."""
    epochs, values = run.series(key)
    points = [(epoch, value) for epoch, value in zip(epochs, values) if value is not None]
    if not points:
        return False
    xs, ys = zip(*points)
    axes.plot(xs, ys, linestyle=style, marker="o", markersize=3, color=line_colour, label=label)
    return True


def _finish(figure: Figure, axes, title: str, ylabel: str, path: Path) -> None:
    """Title, labels, integer epochs, legend; write the PNG."""
    axes.set_title(title)
    axes.set_xlabel("epoch (as recorded, from 0)")
    axes.set_ylabel(ylabel)
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    _save(figure, path)


def _save(figure: Figure, path: Path) -> None:
    """Write the figure as a PNG, cropped to what is drawn (legends beside the axes included)."""
    figure.savefig(path, bbox_inches="tight")
