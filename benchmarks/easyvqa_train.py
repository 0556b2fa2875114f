"""Benchmark the embedded default: easy-VQA training speed and accuracy on this machine's CPU.

1. Throughput: training samples/s with batches grouped by image (each image encoded once per
   batch, the default) against ungrouped random batches (the baseline), measured in the same run.
2. The default command `vlkit vqa train` end to end: wall time, epochs, median epoch time and
   samples/s, best validation accuracy, test accuracy overall and per answer type.
3. With `--against SRC`: the default's training speed with this tree against another vlkit source
   tree SRC (e.g. `git worktree add /tmp/before HEAD~1`, then `--against /tmp/before/src`),
   alternating the two round by round, so a change that must not slow training is measured.

Usage: python benchmarks/easyvqa_train.py [--throughput-epochs 2] [--skip-full | --skip-throughput] [--full-runs 1]
                                          [--against SRC --rounds 2] [--set KEY=VALUE ...]
(CPU training is not bit-reproducible across runs: run the default several times to see its spread.)
Prints a Markdown report for docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

import torch


def run_training(work: Path, overrides: list[str], source: Optional[str] = None) -> tuple[dict, list[dict], float]:
    """Run `vlkit vqa train --json` in `work` (with the vlkit of the source tree `source`, when given);
    returns (summary, per-epoch metric rows, wall seconds)."""
    env = os.environ.copy()
    if source:
        env["PYTHONPATH"] = source
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "vlkit", "vqa", "train", "--json", "trainer.progress_bar=false",
                             *overrides], cwd=work, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"training failed:\n{result.stderr[-3000:]}")
    summary = json.loads(result.stdout)
    rows = [json.loads(line) for line in (work / summary["run_dir"] / "metrics.jsonl").read_text().splitlines()]
    return summary, rows, wall


def throughput(epochs: int) -> list[str]:
    lines = ["| batches | median samples/s | median train s/epoch |", "| --- | ---: | ---: |"]
    medians = {}
    for grouped in (False, True):
        with tempfile.TemporaryDirectory() as work:
            _, rows, _ = run_training(Path(work), [f"data.group_by_image={str(grouped).lower()}",
                                                   f"trainer.max_epochs={epochs}", "trainer.patience=100"])
        medians[grouped] = statistics.median(r["samples_per_second"] for r in rows)
        seconds = statistics.median(r["train_seconds"] for r in rows)
        name = "grouped by image (default)" if grouped else "random (baseline)"
        lines.append(f"| {name} | {medians[grouped]:.0f} | {seconds:.1f} |")
    lines.append(f"\nGrouped / random throughput: **{medians[True] / medians[False]:.2f}x**")
    return lines


def against(source: str, epochs: int, rounds: int) -> list[str]:
    """Median train s/epoch of the default with this tree and with `source`, alternating round by round."""
    seconds: dict[str, list[float]] = {"this tree": [], source: []}
    for _ in range(rounds):
        for name in seconds:
            with tempfile.TemporaryDirectory() as work:
                _, rows, _ = run_training(Path(work), [f"trainer.max_epochs={epochs}", "trainer.patience=100"],
                                          None if name == "this tree" else source)
            seconds[name] += [r["train_seconds"] for r in rows]
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    lines = ["| vlkit source | train s/epoch (every epoch) | median |", "| --- | --- | ---: |"]
    lines += [f"| {name} | {', '.join(f'{v:.1f}' for v in seconds[name])} | {medians[name]:.1f} |" for name in seconds]
    lines.append(f"\nthis tree / {source}: **{medians[source] / medians['this tree']:.2f}x** the speed")
    return lines


def full_default(run: int, overrides: list[str]) -> list[str]:
    with tempfile.TemporaryDirectory() as work:
        summary, rows, wall = run_training(Path(work), overrides)
    test = summary["test"]
    per_type = ", ".join(f"{k} {v:.2f}%" for k, v in test["perAnswerType"].items())
    return [
        f"run {run}:",
        f"- wall time of `vlkit vqa train` (data loading, training, test): **{wall / 60:.1f} min**",
        f"- epochs: {len(rows)} (early stopping, best epoch {summary['best_epoch'] + 1}, counted from 1)",
        f"- median train time per epoch: {statistics.median(r['train_seconds'] for r in rows):.1f} s, "
        f"median epoch incl. validation: {statistics.median(r['epoch_seconds'] for r in rows):.1f} s",
        f"- median training throughput: {statistics.median(r['samples_per_second'] for r in rows):.0f} questions/s",
        f"- best validation accuracy: {summary['best_val_metric']:.2f}%",
        f"- **test accuracy: {test['overall']:.2f}%** over {test['num_questions']} questions ({per_type})",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--throughput-epochs", type=int, default=2)
    parser.add_argument("--skip-full", action="store_true", help="only the throughput comparison")
    parser.add_argument("--skip-throughput", action="store_true", help="only the default command")
    parser.add_argument("--full-runs", type=int, default=1, help="how many times to run the default command")
    parser.add_argument("--against", help="another vlkit source tree (its src/ folder) to compare training speed with")
    parser.add_argument("--rounds", type=int, default=2, help="--against: alternating rounds of each tree")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="a config override for the default command's runs (repeatable)")
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads)\n")
    if args.against:
        print("\n".join(against(args.against, args.throughput_epochs, args.rounds)))
    if not args.skip_throughput:
        print("\n".join(throughput(args.throughput_epochs)))
    if not args.skip_full:
        for run in range(1, args.full_runs + 1):
            print()
            print("\n".join(full_default(run, args.overrides)), flush=True)
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"- peak resident memory of any training process above: {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
