"""Official-format VQA files over a feature store whose answers are known: "what color is the ball?"."""

import numpy as np

from vlkit.features.store import StoreWriter
from vlkit.synth.vqa_official_files import SynthQuestion, write_vqa_part

COLORS = ["red", "blue", "green", "yellow"]


def make_data(root, train_images=40, val_images=12, test_images=6):
    """Each image's 4 feature rows hold a one-hot of its colour in one random row; questions ask the colour."""
    rng = np.random.default_rng(0)
    colors, parts, next_qid = {}, {}, 1
    plan = (("train", range(1, train_images + 1)), ("val", range(1000, 1000 + val_images)),
            ("test-dev", range(2000, 2000 + test_images)))
    for part, image_ids in plan:
        items = []
        for image_id in image_ids:
            colors[image_id] = int(rng.integers(len(COLORS)))
            color = COLORS[colors[image_id]]
            for question in ("What color is the ball?", "What is the color of the ball?"):
                answers = (color,) * 8 + (COLORS[(colors[image_id] + 1) % 4],) * 2 if part != "test-dev" else ()
                items.append(SynthQuestion(next_qid, image_id, question, "what color", "other", answers))
                next_qid += 1
        write_vqa_part(root, part, items)
        parts[part] = items
    image_ids = sorted(colors)
    writer = StoreWriter(root / "store", image_ids + [99999], k_max=4, dim=8, kind="grid",
                         manifest={"source": "test", "model": "synthetic"})
    for image_id in image_ids:
        rows = rng.normal(0, 0.1, size=(1, 4, 8)).astype(np.float32)
        rows[0, rng.integers(4), colors[image_id]] += 3.0
        writer.write([image_id], rows, [4])
    writer.finish()
    return parts
