"""A procedural captioning set in Karpathy's split format: coloured shapes and where they are.

Each image (white background) holds 1 to 3 filled shapes (circle, rectangle, triangle; the colours
and drawing of `synth.shapes`), each of another colour, placed so that no two overlap and every two
have box centres at least size/8 apart horizontally. Each image has 5 differently worded captions,
every one true of the image: what is there ("a red circle and a blue triangle"), left/right
relations ("a red circle to the left of a blue triangle", "... between ..."), above/below relations
(only between shapes whose centres are at least size/8 apart vertically) and, for one shape, which
side of the image it is on (its centre in the outer third).

Written as `out_dir/dataset_synthetic.json` plus `out_dir/images/<imgid>.png`:
    {"dataset": "synthetic-shapes",
     "images": [{"filepath": "images", "filename": "000000.png", "imgid": 0, "split": "train",
                 "sentids": [0, ..., 4],
                 "sentences": [{"tokens": ["a", "red", "circle"], "raw": "A red circle.", "imgid": 0, "sentid": 0}],
                 "objects": [{"word": "circle", "color": "red", "box": [x0, y0, x1, y1]}]}]}
`objects` (an extra key, ignored by Karpathy readers) lists every shape with its noun, its colour and
the box it was drawn in (pixels, right and bottom inclusive as PIL draws). With `filepath` "images",
the images root is `out_dir` (the folder of the JSON). Of the first `n_train` images the last tenth
are in split "restval", which joins train by default, as in COCO.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from vlkit.synth.shapes import COLORS, SHAPE_NAMES, fill_shape

CAPTIONS_PER_IMAGE = 5
_WORD = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class SceneObject:
    """One shape of a scene and the box it is drawn in (left, top, right, bottom)."""

    shape: str
    color: str
    box: tuple[int, int, int, int]

    @property
    def centre(self) -> tuple[float, float]:
        left, top, right, bottom = self.box
        return (left + right) / 2, (top + bottom) / 2

    @property
    def phrase(self) -> str:
        return f"{self.color} {self.shape}"


def place_objects(count: int, size: int, rng: np.random.Generator) -> list[SceneObject]:
    """`count` shapes of distinct colours in a size x size image: no two boxes overlap, and every two centres are
    at least size/8 apart horizontally. Returned in left-to-right order."""
    margin = size / 8
    colors = [str(c) for c in rng.choice(list(COLORS), size=count, replace=False)]
    shapes = [str(s) for s in rng.choice(SHAPE_NAMES, size=count)]
    while True:
        objects = []
        for shape, color in zip(shapes, colors):
            width = int(rng.integers(size // 6, size // 3 + 1))
            height = max(4, int(width * rng.uniform(0.55, 0.8))) if shape == "rectangle" else width
            left, top = int(rng.integers(1, size - width - 1)), int(rng.integers(1, size - height - 1))
            objects.append(SceneObject(shape, color, (left, top, left + width, top + height)))
        if all(abs(a.centre[0] - b.centre[0]) >= margin and not _overlap(a.box, b.box)
               for i, a in enumerate(objects) for b in objects[i + 1:]):
            return sorted(objects, key=lambda o: o.centre[0])


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int], gap: int = 2) -> bool:
    return a[0] <= b[2] + gap and b[0] <= a[2] + gap and a[1] <= b[3] + gap and b[1] <= a[3] + gap


def true_captions(objects: list[SceneObject], size: int) -> list[str]:
    """Every caption the templates make that is true of the scene (`objects` in left-to-right order)."""
    margin = size / 8
    vertical = [(a, b) for a in objects for b in objects if b.centre[1] - a.centre[1] >= margin]  # a above b
    captions = [f"a {upper.phrase} above a {lower.phrase}" for upper, lower in vertical]
    captions += [f"a {lower.phrase} below a {upper.phrase}" for upper, lower in vertical]
    if len(objects) == 1:
        (only,) = objects
        x, y = only.centre
        captions += [f"a {only.phrase}", f"a {only.phrase} on a white background",
                     f"there is a {only.phrase} in the picture", f"a single {only.shape} colored {only.color}",
                     f"one {only.phrase} and nothing else", f"the image shows a {only.phrase}"]
        if x < size / 3 or x > 2 * size / 3:
            captions.append(f"a {only.phrase} on the {'left' if x < size / 3 else 'right'} side of the image")
        if y < size / 3 or y > 2 * size / 3:
            captions.append(f"a {only.phrase} near the {'top' if y < size / 3 else 'bottom'} of the image")
        return captions
    pairs = [(a, b) for i, a in enumerate(objects) for b in objects[i + 1:]]  # a left of b
    captions += [f"a {a.phrase} to the left of a {b.phrase}" for a, b in pairs]
    captions += [f"a {b.phrase} to the right of a {a.phrase}" for a, b in pairs]
    captions += [f"the {a.phrase} is left of the {b.phrase}" for a, b in pairs]
    listed = ", a ".join(o.phrase for o in objects[:-1]) + f" and a {objects[-1].phrase}"
    count = "two" if len(objects) == 2 else "three"
    captions += [f"a {listed}", f"{count} shapes: a {listed}", f"a {listed} on a white background"]
    if len(objects) == 3:
        left, middle, right = objects
        captions += [f"a {listed} from left to right", f"a {middle.phrase} between a {left.phrase} and a {right.phrase}"]
    return captions


def draw_scene(objects: list[SceneObject], size: int) -> Image.Image:
    """The RGB image (size x size) of a scene on a white background."""
    image = Image.new("RGB", (size, size), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    for item in objects:
        fill_shape(draw, item.shape, item.box, item.color)
    return image


def write_synthetic_karpathy(out_dir: str | Path, n_train: int = 800, n_val: int = 100, n_test: int = 100,
                             size: int = 64, seed: int = 0) -> Path:
    """Write the set (layout in the module docstring) and return the path of its Karpathy JSON."""
    if size < 32:
        raise ValueError(f"size must be at least 32 pixels to place 3 shapes, got {size}")
    rng = np.random.default_rng(seed)
    out_dir = Path(out_dir)
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    splits = ["train"] * (n_train - n_train // 10) + ["restval"] * (n_train // 10) + ["val"] * n_val + ["test"] * n_test
    records = []
    for image_id, split in enumerate(splits):
        objects = place_objects(int(rng.integers(1, 4)), size, rng)
        filename = f"{image_id:06d}.png"
        draw_scene(objects, size).save(out_dir / "images" / filename)
        pool = true_captions(objects, size)
        chosen = [pool[i] for i in rng.permutation(len(pool))[:CAPTIONS_PER_IMAGE]]
        sentids = list(range(image_id * CAPTIONS_PER_IMAGE, (image_id + 1) * CAPTIONS_PER_IMAGE))
        records.append({
            "filepath": "images", "filename": filename, "imgid": image_id, "split": split, "sentids": sentids,
            "sentences": [{"tokens": _WORD.findall(caption), "raw": caption[0].upper() + caption[1:] + ".",
                           "imgid": image_id, "sentid": sentid} for caption, sentid in zip(chosen, sentids)],
            "objects": [{"word": o.shape, "color": o.color, "box": list(o.box)} for o in objects],
        })
    path = out_dir / "dataset_synthetic.json"
    path.write_text(json.dumps({"dataset": "synthetic-shapes", "images": records}))
    return path
