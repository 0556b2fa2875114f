"""`vlkit caption score`: coco-caption metrics of a results file against COCO caption annotations."""

from __future__ import annotations

import logging
from pathlib import Path

from vlkit.caption.metrics.files import read_caption_files
from vlkit.caption.metrics.scorers import CaptionScores, score_captions

logger = logging.getLogger("vlkit")


def score_files(references_path: Path, predictions_path: Path, meteor: bool = True,
                spice: bool = False) -> CaptionScores:
    """Read and check both files, then score the predicted images (METEOR by default, as coco-caption does)."""
    files = read_caption_files(references_path, predictions_path)
    if files.unpredicted:
        logger.warning(f"warning: {files.unpredicted} of {len(files.references)} reference images have no prediction; "
                       f"scoring the {len(files.predictions)} predicted images (as the COCO evaluator does)")
    return score_captions(files.references, files.predictions, meteor=meteor, spice=spice)
