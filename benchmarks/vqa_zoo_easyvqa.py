"""Train every VQA model of the zoo on the embedded default (easy-VQA, CPU) and report what it reaches.

Runs `vlkit vqa train --config configs/vqa/<model>_easyvqa.yaml` for each model named (default:
every `*_easyvqa.yaml` recipe), one after another, and prints one Markdown table row per model:
parameters, epochs run (best epoch), median train seconds per epoch, median questions/s, best
validation accuracy, test accuracy overall and per answer type, wall time.

Usage: python benchmarks/vqa_zoo_easyvqa.py [--models bow saaa ...] [--runs-root DIR] [--set KEY=VALUE ...]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from easyvqa_train import run_training  # noqa: E402

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "vqa"


def parameter_count(run_dir: Path) -> int:
    """Number of trained parameters in the run's best checkpoint."""
    state = torch.load(run_dir / "best.ckpt", map_location="cpu", weights_only=False)["state_dict"]
    return sum(tensor.numel() for tensor in state.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="*", help="models to train (default: every *_easyvqa.yaml recipe)")
    parser.add_argument("--runs-root", type=Path, default=Path("runs-zoo"), help="where the runs are kept")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="a config override for every run (repeatable), e.g. --set trainer.max_epochs=2")
    args = parser.parse_args()
    models = args.models or sorted(p.name.removesuffix("_easyvqa.yaml") for p in CONFIGS.glob("*_easyvqa.yaml"))
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads)\n")
    print("| model | parameters | epochs (best) | train s/epoch | questions/s | best val | test: overall "
          "(yes/no, shape, color) | wall min |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |")
    args.runs_root.mkdir(parents=True, exist_ok=True)
    for model in models:
        config = CONFIGS / f"{model}_easyvqa.yaml"
        summary, rows, wall = run_training(args.runs_root.resolve(), ["--config", str(config), *args.overrides])
        test = summary["test"]
        per_type = ", ".join(f"{v:.2f}" for v in test["perAnswerType"].values())
        print(f"| {model} | {parameter_count(args.runs_root.resolve() / summary['run_dir']):,} | {len(rows)} ({summary['best_epoch'] + 1}) "
              f"| {statistics.median(r['train_seconds'] for r in rows):.1f} "
              f"| {statistics.median(r['samples_per_second'] for r in rows):.0f} "
              f"| {summary['best_val_metric']:.2f} | **{test['overall']:.2f}** ({per_type}) | {wall / 60:.1f} |",
              flush=True)


if __name__ == "__main__":
    main()
