"""The synthetic captioning set: Karpathy format, 5 different captions per image that are all true of the drawn
boxes, deterministic from its seed."""

import json
import re

import numpy as np
import pytest
from PIL import Image

from vlkit.caption.data.karpathy import read_karpathy
from vlkit.synth.captions import write_synthetic_karpathy
from vlkit.synth.shapes import COLORS, SHAPE_NAMES

OBJECT = r"([a-z]+ [a-z]+)"
LESS_THAN = [  # (pattern, axis 0 = x / 1 = y, whether the first object's centre is smaller)
    (rf"{OBJECT} to the left of a {OBJECT}", 0, True), (rf"{OBJECT} to the right of a {OBJECT}", 0, False),
    (rf"the {OBJECT} is left of the {OBJECT}", 0, True), (rf"{OBJECT} above a {OBJECT}", 1, True),
    (rf"{OBJECT} below a {OBJECT}", 1, False),
]


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    path = write_synthetic_karpathy(tmp_path_factory.mktemp("synthetic"), n_train=40, n_val=10, n_test=10, size=64,
                                    seed=3)
    return path, json.loads(path.read_text())


def centres(record):
    return {f"{o['color']} {o['word']}": ((o["box"][0] + o["box"][2]) / 2, (o["box"][1] + o["box"][3]) / 2)
            for o in record["objects"]}


def check_caption(text, record, size):
    """Assert that every shape a caption names is in the image and every relation it states holds."""
    where = centres(record)
    words = text.split()
    named = [f"{a} {b}" for a, b in zip(words, words[1:]) if a in COLORS and b in SHAPE_NAMES]
    named += [f"{color} {shape}" for shape, color in re.findall(r"a single ([a-z]+) colored ([a-z]+)", text)]
    assert named and all(phrase in where for phrase in named), (text, record["objects"])
    for pattern, axis, smaller in LESS_THAN:
        for first, second in re.findall(pattern, text):
            assert (where[first][axis] < where[second][axis]) == smaller, (text, record["objects"])
            assert abs(where[first][axis] - where[second][axis]) >= size / 8, (text, record["objects"])
    for middle, left, right in re.findall(rf"{OBJECT} between a {OBJECT} and a {OBJECT}", text):
        assert where[left][0] < where[middle][0] < where[right][0], (text, record["objects"])
    if "from left to right" in text:
        assert [where[p][0] for p in named] == sorted(where[p][0] for p in named), text
    for side in re.findall(r"on the (left|right) side of the image", text):
        assert (where[named[0]][0] < size / 2) == (side == "left"), (text, record["objects"])
    for side in re.findall(r"near the (top|bottom) of the image", text):
        assert (where[named[0]][1] < size / 2) == (side == "top"), (text, record["objects"])
    if "two shapes" in text or "three shapes" in text:
        assert len(where) == (2 if "two shapes" in text else 3), text
    if "nothing else" in text or "a single" in text:
        assert len(where) == 1, text


def test_every_caption_names_shapes_that_are_there_and_states_only_true_relations(synthetic):
    _, data = synthetic
    for record in data["images"]:
        for sentence in record["sentences"]:
            check_caption(" ".join(sentence["tokens"]), record, 64)


def test_the_relations_checked_are_all_present_in_the_set(synthetic):
    texts = " | ".join(" ".join(s["tokens"]) for record in synthetic[1]["images"] for s in record["sentences"])
    for phrase in ("to the left of", "to the right of", "is left of", "above", "below", "between", "from left to right",
                   "side of the image", "of the image", "two shapes", "three shapes"):
        assert phrase in texts, phrase


def test_each_image_has_five_differently_worded_captions_and_one_to_three_shapes(synthetic):
    for record in synthetic[1]["images"]:
        raws = [s["raw"] for s in record["sentences"]]
        assert len(set(raws)) == 5 and all(r[0].isupper() and r.endswith(".") for r in raws)
        assert 1 <= len(record["objects"]) <= 3
        assert len({o["color"] for o in record["objects"]}) == len(record["objects"])


def test_each_shape_is_drawn_in_its_colour_filling_its_box_as_its_shape_does(synthetic):
    path, data = synthetic
    white = (255, 255, 255)
    for record in data["images"]:
        pixels = np.asarray(Image.open(path.parent / record["filepath"] / record["filename"]))
        for item in record["objects"]:
            x0, y0, x1, y1 = item["box"]
            colour = COLORS[item["color"]]
            assert tuple(pixels[(y0 + y1) // 2, (x0 + x1) // 2]) == colour, record
            top_left, bottom_left = tuple(pixels[y0 + 1, x0 + 1]), tuple(pixels[y1 - 1, x0 + 1])
            expected = {"circle": (white, white), "rectangle": (colour, colour), "triangle": (white, colour)}
            assert (top_left, bottom_left) == expected[item["word"]], record


def test_shapes_never_overlap_and_their_centres_are_an_eighth_of_the_image_apart_horizontally(synthetic):
    for record in synthetic[1]["images"]:
        boxes = [o["box"] for o in record["objects"]]
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]:
                assert abs((a[0] + a[2]) - (b[0] + b[2])) / 2 >= 64 / 8, record
                assert a[2] < b[0] or b[2] < a[0] or a[3] < b[1] or b[3] < a[1], record


def test_the_set_reads_as_a_karpathy_file_with_train_restval_val_and_test(synthetic):
    path, _ = synthetic
    dataset = read_karpathy(path)
    assert [len(dataset.split(s, "separate")) for s in ("train", "restval", "val", "test")] == [36, 4, 10, 10]
    assert all(image.path.is_file() for image in dataset.images)


def test_the_same_seed_writes_the_same_set_and_another_seed_another(tmp_path):
    first = write_synthetic_karpathy(tmp_path / "a", 6, 2, 2, size=48, seed=1)
    again = write_synthetic_karpathy(tmp_path / "b", 6, 2, 2, size=48, seed=1)
    other = write_synthetic_karpathy(tmp_path / "c", 6, 2, 2, size=48, seed=2)
    assert first.read_text() == again.read_text() != other.read_text()
    for name in (f"{i:06d}.png" for i in range(10)):
        assert (tmp_path / "a" / "images" / name).read_bytes() == (tmp_path / "b" / "images" / name).read_bytes()
