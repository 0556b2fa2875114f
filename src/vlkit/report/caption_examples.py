"""Example images of a captioning run's test split with its generated caption and the reference captions.

The generated captions come from the run's `predictions_<split>.json` ([{image_id, caption}] in split order);
the images and references from the prepared data the run's config names (`data.folder`). Whatever of it cannot be
reached (the data moved, a synthetic set that is not in this machine's cache) is said in a note instead of failing.
A synthetic run without data.folder finds its set in the vlkit cache, where training put it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from vlkit.core.errors import VlkitError
from vlkit.report.runs_data import RunData

EXAMPLES_PER_RUN = 6


@dataclass
class CaptionExamples:
    """Up to EXAMPLES_PER_RUN test images of one run; `note` says what could not be shown."""

    image_ids: list[Any] = field(default_factory=list)
    generated: list[str] = field(default_factory=list)
    references: list[list[str]] = field(default_factory=list)  # empty lists where the data is unreachable
    images: list[Optional[np.ndarray]] = field(default_factory=list)  # (3, S, S) uint8, None where unreachable
    note: Optional[str] = None


def predicted_captions(run: RunData) -> list[dict[str, Any]]:
    """The rows of the test predictions file of a run whose rows hold captions; [] for any other run."""
    split = run.test_report.get("split")
    if not split:
        return []
    try:
        rows = json.loads((run.path / f"predictions_{split}.json").read_text())
    except (OSError, ValueError):
        return []
    if not isinstance(rows, list) or not rows or not all(isinstance(row, dict) and "caption" in row for row in rows):
        return []
    return rows


def caption_examples(run: RunData, count: int = EXAMPLES_PER_RUN) -> Optional[CaptionExamples]:
    """The first `count` test images of a captioning run with generated and reference captions; None for a run
    without predicted captions (another task, or not finished)."""
    rows = predicted_captions(run)[:count]
    if not rows:
        return None
    examples = CaptionExamples(image_ids=[row.get("image_id") for row in rows],
                               generated=[str(row["caption"]) for row in rows],
                               references=[[] for _ in rows], images=[None for _ in rows])
    folder = run.config.get("data.folder") or synthetic_cache_folder(run.config)
    if not folder:
        examples.note = ("images and references not shown: the run's config names no data.folder, and the synthetic "
                         "set it was trained on is not in this machine's vlkit cache ($VLKIT_CACHE)")
        return examples
    split = str(run.test_report["split"])
    try:
        data = _open_split(str(folder), split, run.config.get("data.tutorial_base"))
    except (VlkitError, OSError, ValueError, KeyError) as error:
        examples.note = f"images and references not shown: the run's data {folder} could not be read ({error})"
        return examples
    for position, row in enumerate(rows):
        if position >= len(data.rows):
            break
        image_row = int(data.rows[position])
        if data.image_ids is not None and row.get("image_id") != int(data.image_ids[image_row]):
            examples.note = (f"images and references not shown: the images of split {split} of {folder} are not the "
                             "ones the run predicted (the data changed since)")
            return examples
        examples.images[position] = np.asarray(data.images[image_row])
        examples.references[position] = _references(data, image_row)
    return examples


def synthetic_cache_folder(config: dict[str, Any]) -> Optional[str]:
    """The prepared folder of the synthetic set a run without data.folder trained on, when this machine's cache
    holds it; None otherwise (or for other datasets)."""
    from vlkit.caption.data.synthetic_module import SyntheticCaptionData, synthetic_cache_root

    if config.get("data.dataset") != "synthetic_shapes":
        return None
    settings = [config.get(f"data.{name}", getattr(SyntheticCaptionData, name))
                for name in ("n_train", "n_val", "n_test", "image_size", "set_seed")]
    prepared = synthetic_cache_root(*settings) / "prepared"
    return str(prepared) if prepared.is_dir() else None


def _open_split(folder: str, split: str, tutorial_base: Optional[str]):
    """The SplitData of `split` of a prepared folder or of the tutorial's files (captioning's own reader)."""
    from vlkit.caption.data.dataset import open_caption_split

    return open_caption_split(folder, split, tutorial_base).data


def _references(data, image_row: int) -> list[str]:
    """Every reference caption of one image: the untruncated ones when recorded, else the encoded ones as words."""
    if data.references is not None:
        return [str(caption) for caption in data.references[image_row]]
    words = data.word_map.words
    return [" ".join(words(caption.tolist())) for caption in data.captions[image_row]]
