"""Caption fixtures in the COCO formats: reference annotations and results whose captions exercise tokenization
(capitals, punctuation, contractions, possessives, quotes, brackets, numbers)."""

from __future__ import annotations

import json
from pathlib import Path

# image 4 has references but no prediction: it is not scored (a warning counts it)
REFERENCES = {
    1: ["A man riding a wave on top of a surfboard.", "A surfer rides a large wave in the ocean.",
        "The man's surfing on a big, blue wave!"],
    2: ["Two dogs play with a frisbee in the park.", "A couple of dogs running on the grass, chasing a Frisbee",
        "dogs don't stop playing (with a frisbee) at 3.5 p.m."],
    3: ["A cat sitting on a laptop's keyboard.", "A black cat sits on the keyboard of a laptop computer.",
        'A cat on a "MacBook" in the U.S. office.'],
    4: ["A kitchen with stainless steel appliances.", "A clean kitchen."],
}
PREDICTIONS = {1: "a man riding a wave on a surfboard", 2: "Two dogs playing with a frisbee.",
               3: "a cat sitting on a laptop keyboard"}


def coco_references(references: dict[int, list[str]]) -> dict:
    """`references` as a COCO captions annotations file (captions_val2014.json)."""
    annotations = [{"image_id": image_id, "id": 10 * image_id + k, "caption": caption}
                   for image_id, captions in references.items() for k, caption in enumerate(captions)]
    return {"info": {}, "images": [{"id": image_id} for image_id in references], "annotations": annotations}


def coco_results(predictions: dict[int, str]) -> list[dict]:
    """`predictions` as a COCO results file."""
    return [{"image_id": image_id, "caption": caption} for image_id, caption in predictions.items()]


def write_caption_files(folder: Path) -> tuple[Path, Path]:
    """(references file, predictions file) of the fixture captions, written in `folder`."""
    references, predictions = folder / "captions_val.json", folder / "results.json"
    references.write_text(json.dumps(coco_references(REFERENCES)))
    predictions.write_text(json.dumps(coco_results(PREDICTIONS)))
    return references, predictions
