"""Procedural shape images with questions, written in the easy-VQA file layout.

Used for fast tests and for checking a reader or a model on a dataset whose every answer is known:
each image holds one shape (circle, rectangle or triangle) of one colour on a white background,
and the questions ask its colour, its shape, or yes/no about either (with negated forms).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

COLORS = {
    "red": (220, 30, 30), "green": (40, 170, 40), "blue": (30, 60, 220), "yellow": (235, 220, 40),
    "black": (15, 15, 15), "gray": (130, 130, 130), "teal": (0, 140, 140), "brown": (130, 80, 30),
}
SHAPE_NAMES = ("circle", "rectangle", "triangle")


def draw_shape(shape: str, color: str, size: int, rng: np.random.Generator) -> Image.Image:
    """One RGB image (size x size) with one filled shape at a random place and scale."""
    image = Image.new("RGB", (size, size), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    extent = int(rng.integers(size // 3, size - 8))
    left, top = (int(v) for v in rng.integers(2, size - extent - 2, size=2))
    height = int(extent * rng.uniform(0.5, 1.0)) if shape == "rectangle" else extent
    fill_shape(draw, shape, (left, top, left + extent, top + height), color)
    return image


def fill_shape(draw: ImageDraw.ImageDraw, shape: str, box: tuple[int, int, int, int], color: str) -> None:
    """Draw one filled shape that spans `box` (left, top, right, bottom): a circle (ellipse) in it, the
    rectangle itself, or a triangle with its base on the bottom edge and its apex at the top centre."""
    left, top, right, bottom = box
    fill = COLORS[color]
    if shape == "circle":
        draw.ellipse(box, fill=fill)
    elif shape == "rectangle":
        draw.rectangle(box, fill=fill)
    else:
        draw.polygon([(left, bottom), (right, bottom), (left + (right - left) // 2, top)], fill=fill)


def questions_for(shape: str, color: str, rng: np.random.Generator) -> list[tuple[str, str]]:
    """(question, answer) pairs about an image holding one `color` `shape`."""
    other_shape = str(rng.choice([s for s in SHAPE_NAMES if s != shape]))
    other_color = str(rng.choice([c for c in COLORS if c != color]))
    return [
        ("what color is the shape?", color),
        (f"what is the {color} shape?", shape),
        ("what shape is in the image?", shape),
        (f"is there a {color} shape?", "yes"),
        (f"is there a {other_color} shape?", "no"),
        (f"does the image contain a {shape}?", "yes"),
        (f"does the image not contain a {other_shape}?", "yes"),
        (f"is there not a {color} shape in the image?", "no"),
    ]


def write_shapes_dataset(root: Path, train_images: int, test_images: int, size: int = 64, seed: int = 0) -> Path:
    """Write `root/answers.txt` and `root/{train,test}/{questions.json,images/<id>.png}`; returns `root`."""
    rng = np.random.default_rng(seed)
    root = Path(root)
    for split, count in (("train", train_images), ("test", test_images)):
        image_dir = root / split / "images"
        image_dir.mkdir(parents=True, exist_ok=True)
        records = []
        for image_id in range(count):
            shape = SHAPE_NAMES[image_id % len(SHAPE_NAMES)]
            color = list(COLORS)[int(rng.integers(len(COLORS)))]
            draw_shape(shape, color, size, rng).save(image_dir / f"{image_id}.png")
            records += [[question, answer, image_id] for question, answer in questions_for(shape, color, rng)]
        (root / split / "questions.json").write_text(json.dumps(records))
    (root / "answers.txt").write_text("\n".join(["yes", "no", *SHAPE_NAMES, *COLORS]) + "\n")
    return root
