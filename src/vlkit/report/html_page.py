"""The report's one self-contained HTML page (inline CSS, figures as PNG files beside it referenced by name).
Every string that comes from a run (names, notes, config values, captions) is escaped."""

from __future__ import annotations

import json
import time
from html import escape
from typing import Any, Optional

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
h1 { font-size: 1.5em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.flag { color: #b00020; font-weight: bold; } .note { color: #666; font-size: 0.9em; }
.status-finished { color: #1b7f2a; } .status-running { color: #1f5fbf; }
.status-interrupted, .status-failed { color: #b00020; }
figure { display: inline-block; margin: 0.5em; } img { max-width: 100%; border: 1px solid #eee; }
.examples { display: flex; flex-wrap: wrap; gap: 1em; } .example { width: 260px; font-size: 0.85em; }
.example img { width: 128px; image-rendering: pixelated; }
"""


def number(value: Optional[float]) -> str:
    """A metric for a table: 2 decimals for percentages and losses above 1, 4 for fractions; '-' when missing."""
    if value is None:
        return "-"
    return f"{value:.4f}" if abs(value) < 1 else f"{value:.2f}"


def _signed(gap: float, reference: float) -> str:
    """A run's distance from a published number, signed, with the decimals of the number's scale."""
    return f"{gap:+.4f}" if abs(reference) < 1 else f"{gap:+.2f}"


def render_page(title: str, rows: list[dict[str, Any]], differences: dict[str, list[Any]],
                curve_files: list[str], group_files: dict[str, str], examples: dict[str, Any]) -> str:
    """The whole page: runs table, validation and test metrics, per-type results, curves, published numbers,
    config differences and (captioning) examples. `examples` maps a run label to its `CaptionExamples` and the
    image file of each example."""
    labels = [row["run"] for row in rows]
    parts = [(f"<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{escape(title)}</title>"
              f"<style>{STYLE}</style></head><body>"),
             f"<h1>{escape(title)}</h1>",
             (f"<p class=\"note\">Made {escape(time.strftime('%Y-%m-%d %H:%M:%S'))} from the files each run holds "
              "now. Epochs are numbered as recorded (from 0); the best epoch is the one with the best value of the "
              "run's validation monitor. Overfitting: the monitor got worse for 3 or more epochs in a row while the "
              "training loss kept falling.</p>"),
             _runs_table(rows),
             _metric_table("Validation metrics at each run's best epoch", labels,
                           [row["val_at_best"] for row in rows]),
             _metric_table("Test metrics", labels, [row["test"] for row in rows],
                           empty="no run has a test report yet (summary.json is written when training ends)"),
             _groups(rows, group_files),
             _curves(curve_files),
             _published(rows),
             _differences(labels, differences),
             _examples(examples),
             "</body></html>\n"]
    return "\n".join(part for part in parts if part)


def _runs_table(rows: list[dict[str, Any]]) -> str:
    """One line per run: status, model, epochs, best epoch and value, primary test metric, overfitting, notes."""
    head = ("run", "status", "model", "dataset", "epochs", "monitor", "best epoch", "best value", "test metric",
            "published (gap)", "overfitting", "notes")
    lines = ["<h2>Runs</h2>", "<table>", "<tr>" + "".join(f"<th>{name}</th>" for name in head) + "</tr>"]
    for row in rows:
        primary = row["primary_metric"]
        test = (f"{escape(str(primary))} {number(row['test'].get(primary))}" if primary in row["test"] else "-")
        published = "<br>".join(
            f"{escape(item['label'])}: {number(item['value'])}"
            + (f" ({_signed(item['gap'], item['value'])})" if item["gap"] is not None else "")
            for item in row["published"]) or "-"
        span = row["overfitting"]
        overfitting = (f"<span class=\"flag\">yes: epochs {span['from_epoch']}&ndash;{span['to_epoch']}</span>"
                       if span else "no")
        monitor = f"{escape(str(row['monitor']))} ({escape(row['monitor_mode'])})" if row["monitor"] else "-"
        best_epoch = "-" if row["best_epoch"] is None else f"<strong>{row['best_epoch']}</strong>"
        cells = [escape(row["run"]), f"<span class=\"status-{escape(row['status'])}\">{escape(row['status'])}</span>",
                 escape(str(row["model"])), escape(str(row["dataset"])), str(row["epochs"]), monitor, best_epoch,
                 number(row["best_val"]), test, published, overfitting,
                 "<br>".join(escape(note) for note in row["notes"])]
        lines.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    lines.append("</table>")
    return "\n".join(lines)


def _metric_table(title: str, labels: list[str], values: list[dict[str, float]], empty: str = "",
                  heading: str = "h2") -> str:
    """Rows = metric names, columns = runs; under a `heading` (h2, h3) holding `title`."""
    names = list(dict.fromkeys(name for per_run in values for name in per_run))
    if not names:
        return f"<{heading}>{escape(title)}</{heading}><p class=\"note\">{escape(empty or 'none recorded yet')}</p>"
    lines = [f"<{heading}>{escape(title)}</{heading}>", "<table>",
             "<tr><th>metric</th>" + "".join(f"<th>{escape(label)}</th>" for label in labels) + "</tr>"]
    for name in names:
        lines.append(f"<tr><td>{escape(name)}</td>"
                     + "".join(f"<td class=\"num\">{number(per_run.get(name))}</td>" for per_run in values) + "</tr>")
    lines.append("</table>")
    return "\n".join(lines)


def _groups(rows: list[dict[str, Any]], group_files: dict[str, str]) -> str:
    """Per-type test results (VQA per answer / question type, video QA per question type): chart and table."""
    groups = list(dict.fromkeys(group for row in rows for group in row["test_per_type"]))
    if not groups:
        return ""
    labels = [row["run"] for row in rows]
    parts = ["<h2>Test results per type</h2>"]
    for group in groups:
        per_run = [row["test_per_type"].get(group, {}) for row in rows]
        if group in group_files:
            parts.append(f"<figure><img src=\"{escape(group_files[group])}\" alt=\"{escape(group)}\"></figure>")
        table = _metric_table(group, labels, per_run, heading="h3")
        types = len({name for values in per_run for name in values})
        parts.append(f"<details><summary>{escape(group)}: {types} types</summary>{table}</details>"
                     if types > 12 else table)
    return "\n".join(parts)


def _curves(curve_files: list[str]) -> str:
    """The per-epoch figures."""
    if not curve_files:
        return "<h2>Curves</h2><p class=\"note\">no run has finished an epoch yet</p>"
    return "<h2>Curves</h2>\n" + "\n".join(f"<figure><img src=\"{escape(name)}\" alt=\"{escape(name)}\"></figure>"
                                           for name in curve_files)


def _published(rows: list[dict[str, Any]]) -> str:
    """The published numbers the runs are compared with, and where they come from."""
    seen = {(item["label"], item["value"]): item for row in rows for item in row["published"]}
    if not seen:
        return ""
    items = "".join(f"<li>{escape(item['label'])} ({escape(item['metric'])}, {escape(item['split'])}): "
                    f"{number(item['value'])}; source: {escape(item['source'])}</li>" for item in seen.values())
    return f"<h2>Published numbers</h2><ul>{items}</ul>"


def _differences(labels: list[str], differences: dict[str, list[Any]]) -> str:
    """Only the config keys whose values differ between the runs."""
    if len(labels) < 2:
        return ""
    if not differences:
        return "<h2>Config differences</h2><p class=\"note\">the runs' configs are identical</p>"
    lines = ["<h2>Config differences</h2>", "<table>",
             "<tr><th>key</th>" + "".join(f"<th>{escape(label)}</th>" for label in labels) + "</tr>"]
    for key, values in differences.items():
        cells = "".join(f"<td>{escape(_config_value(value))}</td>" for value in values)
        lines.append(f"<tr><td>{escape(key)}</td>{cells}</tr>")
    lines.append("</table>")
    return "\n".join(lines)


def _config_value(value: Any) -> str:
    """A config value as YAML would show it (None: absent or null)."""
    return "-" if value is None else value if isinstance(value, str) else json.dumps(value)


def _examples(examples: dict[str, Any]) -> str:
    """Captioning: each run's example images with generated and reference captions."""
    if not examples:
        return ""
    parts = ["<h2>Caption examples (test split)</h2>"]
    for label, (found, files) in examples.items():
        parts.append(f"<h3>{escape(label)}</h3>")
        if found.note:
            parts.append(f"<p class=\"note\">{escape(found.note)}</p>")
        cells = []
        for index, generated in enumerate(found.generated):
            image = f"<img src=\"{escape(files[index])}\" alt=\"image\">" if files[index] else ""
            references = "".join(f"<li>{escape(text)}</li>" for text in found.references[index])
            cells.append(f"<div class=\"example\">{image}<p>image {escape(str(found.image_ids[index]))}</p>"
                         f"<p><strong>generated:</strong> {escape(generated)}</p>"
                         + (f"<p>references:</p><ul>{references}</ul>" if references else "") + "</div>")
        parts.append(f"<div class=\"examples\">{''.join(cells)}</div>")
    return "\n".join(parts)
