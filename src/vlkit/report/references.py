"""Published numbers of the references that vlkit's recipes reproduce, drawn as reference lines in reports.

A number applies to a run when the run's task and `model.name` are the reference's and its config matches the
reference's conditions (`equals`: a config key holds exactly this value; `contains`: a config key's value contains
this text, case-insensitive, e.g. the annotations folder names the dataset). The config schema is strict, so the
numbers live here rather than in the recipes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PublishedNumber:
    """One published result: `value` of the test report key `metric` on `split`, comparable per epoch with the
    validation curve `curve` (the scale of vlkit's numbers: % for accuracies, a fraction for BLEU)."""

    label: str  # "MCAN-small, VQA v2 val (trained on train)"
    task: str
    model: str
    metric: str  # key of the test report ("overall", "accuracy", "tutorial_bleu4")
    curve: str  # per-epoch key the line is drawn on ("val/acc")
    split: str  # the split the number was reported on
    value: float
    source: str
    equals: tuple[tuple[str, str], ...] = ()
    contains: tuple[tuple[str, str], ...] = ()

    def matches(self, task: str, config: dict[str, Any]) -> bool:
        """Whether this number is the reference of a run of `task` with the flattened (dotted keys) `config`."""
        if task != self.task or config.get("model.name") != self.model:
            return False
        if any(str(config.get(key)) != value for key, value in self.equals):
            return False
        return all(text.lower() in str(config.get(key, "")).lower() for key, text in self.contains)


PUBLISHED = (
    PublishedNumber("MCAN-small, VQA v2 val (trained on train)", "vqa", "mcan_small", "overall", "val/acc", "val",
                    67.17, "MILVLG/mcan-vqa README.md (results table: small, train -> val)",
                    equals=(("data.dataset", "vqa"), ("data.train_split", "train"))),
    PublishedNumber("DualVGR, MSVD-QA test", "videoqa", "dualvgr", "accuracy", "val/acc", "test", 39.03,
                    "Wang et al., DualVGR, IEEE TMM 2021 (NJUPT-MCC/DualVGR-VideoQA)",
                    equals=(("data.dataset", "clip_features"),), contains=(("data.annotations", "msvd"),)),
    PublishedNumber("DualVGR, MSRVTT-QA test", "videoqa", "dualvgr", "accuracy", "val/acc", "test", 35.52,
                    "Wang et al., DualVGR, IEEE TMM 2021 (NJUPT-MCC/DualVGR-VideoQA)",
                    equals=(("data.dataset", "clip_features"),), contains=(("data.annotations", "msrvtt"),)),
    PublishedNumber("Show, Attend and Tell (tutorial), COCO Karpathy test BLEU-4", "caption", "show_attend_tell",
                    "tutorial_bleu4", "val/tutorial_bleu4", "test", 0.279,
                    "a typical reproduction of sgrvinod/a-PyTorch-Tutorial-to-Image-Captioning (docs/caption.md)",
                    equals=(("data.dataset", "prepared"),), contains=(("data.folder", "coco"),)),
)


def published_for(task: str, config: dict[str, Any]) -> list[PublishedNumber]:
    """The published numbers that apply to a run of `task` with the flattened `config` (dotted keys)."""
    return [number for number in PUBLISHED if number.matches(task, config)]
