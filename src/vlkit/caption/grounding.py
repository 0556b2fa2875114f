"""Grounding on the synthetic shapes set: does the attention behind a shape word fall on that shape?

For every decoded caption of a split and every shape word in it that names a shape of the image by
colour and noun ("red circle", the colours of one image are all different), the score is the share
of the region attention of the step that wrote the noun that lies inside the shape's box: each
region of the G x G grid counts with the part of its image block (the area its adaptive pooling
averages) covered by the box. Averaged over those words. The chance level is the box's share of
the image area (what uniform attention would give), reported next to it. For a model with a
visual sentinel (`adaptive`), the region weights are renormalised to sum to 1 first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from vlkit.caption.data.module import CaptionDataModule
from vlkit.caption.data.synthetic_module import SyntheticCaptionDataModule
from vlkit.caption.module import CaptionModule
from vlkit.core.errors import VlkitError
from vlkit.core.predictor import load_run
from vlkit.core.task import Task
from vlkit.synth.shapes import COLORS, SHAPE_NAMES


@dataclass
class GroundingReport:
    """Mean attention share inside the named shape's box, the mean box share of the image, how many words."""

    grounding: float
    box_area_share: float
    words: int
    misnamed: int  # shape words whose colour names a shape of another kind (left out of the means)

    def as_dict(self) -> dict:
        return {"grounding": self.grounding, "box_area_share": self.box_area_share, "words": self.words,
                "misnamed": self.misnamed}


def box_share_per_region(box: tuple[int, int, int, int], image_size: int, grid: int) -> torch.Tensor:
    """(G, G) share of each region's image block inside `box` (left, top, right, bottom, pixels, inclusive)."""
    mask = torch.zeros(1, 1, image_size, image_size)
    left, top, right, bottom = box
    mask[..., top:bottom + 1, left:right + 1] = 1.0
    return F.adaptive_avg_pool2d(mask, grid)[0, 0]


def read_objects(karpathy_json: Path) -> dict[int, list[dict]]:
    """image id -> its objects [{word, color, box}] from a synthetic set's Karpathy file."""
    records = json.loads(Path(karpathy_json).read_text())["images"]
    if not records or "objects" not in records[0]:
        raise VlkitError(f"{karpathy_json} has no object boxes: grounding needs the synthetic shapes set")
    return {int(record["imgid"]): record["objects"] for record in records}


@torch.no_grad()
def grounding_report(module: CaptionModule, datamodule: CaptionDataModule, split: str,
                     objects: dict[int, list[dict]]) -> GroundingReport:
    """Decode every image of `split` with the module's beam search and score where its shape words looked."""
    if not module.model.attends:
        raise VlkitError(f"model {module.config.model_entry.name!r} does not attend to image regions: it has no "
                         "grounding to score")
    module.eval()
    word_map = datamodule.word_map
    image_ids = datamodule.image_ids(split)
    image_size = datamodule.vocabularies.image_size
    shares, areas, misnamed = [], [], 0
    for batch in tqdm(datamodule.loader(split), desc=f"grounding on {split}", unit="batch", leave=False):
        decoded = module.decode(batch["images"].to(module.device))
        attention = decoded.attention.cpu()  # (B, L, P)
        grid = int(round(attention.shape[-1] ** 0.5))
        for row, position in enumerate(batch["index"].tolist()):
            words = word_map.words(decoded.tokens[row, : int(decoded.lengths[row])].tolist())
            by_color = {item["color"]: item for item in objects[image_ids[position]]}
            for step, word in enumerate(words):
                if word not in SHAPE_NAMES or step == 0 or words[step - 1] not in COLORS:
                    continue
                item = by_color.get(words[step - 1])
                if item is None:
                    continue
                if item["word"] != word:
                    misnamed += 1
                    continue
                inside = box_share_per_region(tuple(item["box"]), image_size, grid)
                weights = attention[row, step].reshape(grid, grid)
                shares.append(float((weights * inside).sum() / weights.sum().clamp_min(1e-12)))
                areas.append(float(inside.mean()))
    if not shares:
        raise VlkitError(f"no decoded caption of {split} names a shape of its image by colour: nothing to score")
    return GroundingReport(float(np.mean(shares)), float(np.mean(areas)), len(shares), misnamed)


def run_grounding(task: Task, run_dir: Path, split: str = "test", checkpoint: str = "best") -> GroundingReport:
    """The grounding report of a run trained on the synthetic shapes set (`vlkit caption grounding`)."""
    if split not in ("train", "val", "test"):
        raise VlkitError(f"--split must be train, val or test, got {split!r}")
    trained = load_run(task, run_dir, checkpoint)
    datamodule = task.build_datamodule(trained.config, trained.vocabularies)
    if not isinstance(datamodule, SyntheticCaptionDataModule):
        raise VlkitError(f"{run_dir} was trained on data.dataset={trained.config.data_entry.name}: grounding needs "
                         "the object boxes of the synthetic_shapes set")
    return grounding_report(trained.module, datamodule, split, read_objects(datamodule.karpathy_file()))
