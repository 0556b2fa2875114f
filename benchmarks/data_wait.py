"""How long a training epoch waits for batches: vlkit's VQA loader over a feature store of the real shapes.

Writes VQA v2-format question/annotation files and a feature store of the recipe's shape (mcan_small:
100 x 2048 fp16 region rows with 10-100 valid boxes; saaa: 196 x 2048 grid cells) into a temporary
folder, builds the data module and the model from the recipe (configs/vqa/<model>_vqa2.yaml, with
its default loader settings: batch size, workers, grouping by image; only the answer list,
vocabulary and GloVe are taken from the training file alone), then trains one epoch by hand:
the time blocked in `next(loader)` against the time in the training step (forward, loss, backward,
Adam). Also reported: the loader alone (no steps), as batches/s, which bounds how fast a step may
get (e.g. on a GPU) before training starts to wait.

Usage: python benchmarks/data_wait.py [--model mcan_small|saaa] [--images 400] [--questions-per-image 4]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from vlkit.core.config import load_config
from vlkit.features.store import StoreWriter
from vlkit.synth.vqa_official_files import SynthQuestion, write_vqa_part
from vlkit.vqa.task import VQATask

REPO = Path(__file__).resolve().parents[1]
SHAPES = {"mcan_small": (100, "regions"), "saaa": (196, "grid")}
WORDS = "what color is the shape of man woman table dog cat how many are there in on left right".split()


def write_data(root: Path, model: str, images: int, per_image: int, rng: np.random.Generator) -> None:
    """train (80%) and val (20%) question/annotation files and a feature store covering their images."""
    answers = [f"answer{i}" for i in range(60)]
    split_at = int(images * 0.8)
    question_id = 1
    for part, image_ids in (("train", range(1, split_at + 1)), ("val", range(split_at + 1, images + 1))):
        items = []
        for image_id in image_ids:
            for _ in range(per_image):
                words = rng.choice(WORDS, size=int(rng.integers(4, 13)))
                humans = tuple(rng.choice(answers, size=10, p=None))
                items.append(SynthQuestion(question_id, image_id, " ".join(words) + "?", "what", "other", humans))
                question_id += 1
        write_vqa_part(root, part, items)
    rows, kind = SHAPES[model]
    writer = StoreWriter(root / "store", list(range(1, images + 1)), k_max=rows, dim=2048, kind=kind,
                         manifest={"source": "benchmark", "model": "random"})
    for start in range(1, images + 1, 50):
        ids = list(range(start, min(start + 50, images + 1)))
        features = rng.random((len(ids), rows, 2048), dtype=np.float32).astype(np.float16)
        if kind == "regions":
            writer.write(ids, features, rng.integers(10, rows + 1, size=len(ids)).tolist(),
                         boxes=np.zeros((len(ids), rows, 4), np.float32), image_size=np.full((len(ids), 2), 480))
        else:
            writer.write(ids, features, [rows] * len(ids))
    writer.finish()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="mcan_small", choices=sorted(SHAPES))
    parser.add_argument("--images", type=int, default=400)
    parser.add_argument("--questions-per-image", type=int, default=4)
    args = parser.parse_args()
    task = VQATask()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        write_data(root, args.model, args.images, args.questions_per_image, np.random.default_rng(0))
        overrides = [f"data.root={root}", f"data.features={root / 'store'}", "data.train_split=train",
                     "data.val_split=val", "trainer.progress_bar=false"]
        if args.model == "mcan_small":
            overrides += ["data.answer_splits=train", "data.vocab_splits=train", "model.glove=none"]
        config = load_config(task, REPO / "configs" / "vqa" / f"{args.model}_vqa2.yaml", overrides)
        datamodule = task.build_datamodule(config, None)
        datamodule.setup("fit")
        module = task.build_module(config, datamodule.vocabularies, fresh=True).train()
        optimizer = module.configure_optimizers()
        optimizer = optimizer["optimizer"] if isinstance(optimizer, dict) else optimizer

        start = time.perf_counter()
        batches = sum(1 for _ in datamodule.train_dataloader())
        loader_alone = batches / (time.perf_counter() - start)

        waits, steps = [], []
        iterator = iter(datamodule.train_dataloader())
        while True:
            started = time.perf_counter()
            batch = next(iterator, None)
            fetched = time.perf_counter()
            if batch is None:
                break
            optimizer.zero_grad(set_to_none=True)
            module.loss(batch, module(batch)).backward()
            optimizer.step()
            waits.append(fetched - started)
            steps.append(time.perf_counter() - fetched)
    loader = config.data
    print(f"{args.model}: {len(steps)} batches of {loader.batch_size} ({loader.num_workers} workers), "
          f"{torch.get_num_threads()} threads")
    print(f"waiting for batches: {sum(waits):.2f} s of {sum(waits) + sum(steps):.2f} s "
          f"({100 * sum(waits) / (sum(waits) + sum(steps)):.2f}%); first batch {waits[0]:.2f} s, "
          f"median wait after it {1000 * statistics.median(waits[1:]):.1f} ms; median step {statistics.median(steps):.2f} s")
    print(f"loader alone: {loader_alone:.1f} batches/s (its workers keep up with steps longer than "
          f"{1000 / loader_alone:.0f} ms)")


if __name__ == "__main__":
    main()
