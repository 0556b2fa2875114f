"""The captioning models on the embedded synthetic shapes set: test CIDEr / BLEU-4, grounding and time per epoch.

Each model trains with the embedded default's settings (`vlkit caption train model.name=MODEL`: the
synthetic set of 800 + 100 + 100 images at 64 px, a small CNN trained from scratch, the model's
default sizes), then its best checkpoint is scored on the test split and, for the attention models,
`vlkit.caption.grounding` measures how much of a shape word's attention falls inside that shape's box
against the box's share of the image. One JSON line per model is appended to --out.

Usage: python benchmarks/caption_synthetic_models.py --model show_attend_tell [--epochs 15] [--threads 1]
       [--out caption_synthetic_models.jsonl] [--runs-root runs] [key=value ...]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from vlkit.caption.grounding import run_grounding
from vlkit.caption.task import CaptionTask
from vlkit.core.config import load_config
from vlkit.core.fit import fit


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, choices=["show_tell", "show_attend_tell", "adaptive"])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", default="caption_synthetic_models.jsonl")
    parser.add_argument("--runs-root", default="runs")
    parser.add_argument("overrides", nargs="*", help="more key=value settings")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    task = CaptionTask()
    overrides = [f"model.name={args.model}", f"trainer.max_epochs={args.epochs}", "trainer.progress_bar=false",
                 f"run.root={args.runs_root}", f"run.name={args.model}_synthetic", *args.overrides]
    summary = fit(task, load_config(task, None, overrides))
    row = {"model": args.model, "torch_threads": torch.get_num_threads(), "overrides": args.overrides,
           "epochs_trained": summary["epochs_trained"], "best_epoch": summary["best_epoch"],
           "seconds_per_epoch": round(summary["train_seconds"] / max(summary["epochs_trained"], 1), 1),
           **{key: summary["test"].get(key) for key in ("CIDEr", "Bleu_4", "METEOR", "ROUGE_L")}}
    if args.model != "show_tell":
        row.update(run_grounding(task, Path(summary["run_dir"]), "test").as_dict())
    with open(args.out, "a") as handle:
        handle.write(json.dumps(row) + "\n")
    print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
