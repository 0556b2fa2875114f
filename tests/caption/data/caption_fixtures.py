"""Small Karpathy split files (COCO and Flickr layouts) with their images, written for the captioning data tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

# (split, captions); the words are chosen so that hand-counted word maps are easy to check
CAPTIONS = [
    ("train", ["a dog runs", "a brown dog", "the dog runs fast"]),
    ("restval", ["a cat sleeps", "the cat", "a cat on a mat", "a dog and a cat", "cat", "the cat sleeps"]),
    ("val", ["a bird flies", "a small bird"]),
    ("test", ["a fish swims in the sea today yes", "a fish"]),
]


def record(position: int, split: str, captions: list[str], coco: bool) -> dict:
    """One image record of dataset_coco.json (coco) or dataset_flickr8k.json."""
    sentids = list(range(position * 10, position * 10 + len(captions)))
    item = {"sentids": sentids, "imgid": position, "split": split,
            "sentences": [{"tokens": text.split(), "raw": text.capitalize() + " .", "imgid": position, "sentid": s}
                          for text, s in zip(captions, sentids)]}
    if coco:
        cocoid = 1000 + position
        folder = "val2014" if split != "train" else "train2014"
        item.update(filepath=folder, filename=f"COCO_{folder}_{cocoid:012d}.jpg", cocoid=cocoid)
    else:
        item["filename"] = f"{position}00_{position}abc.jpg"
    return item


def write_karpathy(directory: Path, coco: bool = True, captions: list = CAPTIONS, images: bool = True,
                   size: int = 40) -> Path:
    """A Karpathy file under `directory` (and, with `images`, its images under `directory/images`); returns its path."""
    directory.mkdir(parents=True, exist_ok=True)
    records = [record(position, split, texts, coco) for position, (split, texts) in enumerate(captions)]
    if images:
        for position, item in enumerate(records):
            path = directory / "images" / item.get("filepath", "") / item["filename"]
            path.parent.mkdir(parents=True, exist_ok=True)
            pixels = np.random.default_rng(position).integers(0, 256, (size, size + 8, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(path, format="PNG")
    path = directory / ("dataset_coco.json" if coco else "dataset_flickr8k.json")
    path.write_text(json.dumps({"images": records, "dataset": "coco" if coco else "flickr8k"}, indent=1))
    return path
