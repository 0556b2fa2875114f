"""Training steps of vlkit's MCAN-small and SAAA against their reference implementations, in one process.

The baselines are transcriptions of the references' models and training steps
(benchmarks/reference_training.py: MILVLG/mcan-vqa's `Net` with BCELoss(sum) and Adam(0.9, 0.98,
1e-9); Cyanogenoid/pytorch-vqa's `Net` with its soft cross-entropy and Adam), loaded with the same
weights as vlkit's model. vlkit's step is its real one: the model built from its VQA v2 recipe,
`VQAModule.loss` and the optimiser `VQAModule.configure_optimizers` makes.

Batches (random, seeded): mcan_small batch 64, 100 x 2048 region rows of which each image has
`--boxes` valid ones (the rest zero rows, as mcan-vqa's loader pads), 14 question tokens of which 4-14
are words; saaa batch 128, 14 x 14 x 2048 grid cells (vlkit reads (B, 196, 2048) rows from its
store, pytorch-vqa (B, 2048, 14, 14) from its HDF5 file), questions of 4-23 words sorted by length
as pytorch-vqa's collate function does.

Rounds alternate the two (reference first in even rounds, vlkit first in odd ones); each round
times `--steps` steps of each after one untimed warm-up step per model at the start. Reported:
median samples/s of each and the median of the per-round ratios vlkit / reference.
`--precision bf16-mixed` runs vlkit's step under bf16 autocast and `--compile` runs it through
torch.compile (compile time reported separately); the reference always runs as published (fp32).
`--profile` prints the operators taking the most time in one step of each instead.

Usage: python benchmarks/training_speed.py [--models mcan_small saaa] [--rounds 7] [--steps 2]
       [--boxes uniform|all] [--precision 32|bf16-mixed] [--compile] [--device cpu|cuda] [--profile]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
from pathlib import Path
from typing import Callable

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from timing import timed  # noqa: E402
from reference_training import (ReferenceMcan, ReferenceSaaa, mcan_training_step,  # noqa: E402
                                saaa_training_step)

VOCAB = 20000
BATCH = {"mcan_small": 64, "saaa": 128}
ANSWERS = {"mcan_small": 3129, "saaa": 3000}
Step = Callable[[], None]



def question_tokens(batch: int, max_len: int, shortest: int, generator: torch.Generator) -> tuple[torch.Tensor,
                                                                                                  torch.Tensor]:
    """Token ids (B, max_len), zero after each question's words, and the lengths (B,), longest first."""
    lengths = torch.randint(shortest, max_len + 1, (batch,), generator=generator).sort(descending=True).values
    tokens = torch.randint(2, VOCAB, (batch, max_len), generator=generator)
    tokens[torch.arange(max_len)[None] >= lengths[:, None]] = 0
    return tokens, lengths


def soft_targets(batch: int, answers: int, generator: torch.Generator) -> torch.Tensor:
    """VQA soft scores (B, A): a few answers per question with scores in (0, 1]."""
    chosen = torch.rand(batch, answers, generator=generator) < 0.002
    return torch.where(chosen, torch.randint(1, 11, (batch, answers), generator=generator) / 10, 0.0)


def vlkit_step(name: str, batch: dict[str, torch.Tensor], device: torch.device, precision: str, compile_model: bool
               ) -> tuple[torch.nn.Module, Step]:
    """vlkit's model from its VQA v2 recipe and a closure running one training step on `batch`."""
    from vlkit.core.config import load_config
    from vlkit.vqa.models import MODELS
    from vlkit.vqa.module import VQAModule
    from vlkit.vqa.task import VQATask

    config = load_config(VQATask(), REPO / "configs" / "vqa" / f"{name}_vqa2.yaml")
    model = MODELS.get(name).builder(config.model, vocab_size=VOCAB, num_answers=ANSWERS[name]).to(device).train()
    module = VQAModule(config, model, VOCAB, ANSWERS[name])
    optimizer = module.configure_optimizers()
    optimizer = optimizer["optimizer"] if isinstance(optimizer, dict) else optimizer
    forward = torch.compile(model) if compile_model else model

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16-mixed"):
            outputs = forward(batch)
        module.loss(batch, outputs).backward()
        optimizer.step()

    return model, step


def mcan_steps(device: torch.device, boxes: str, precision: str, compile_model: bool) -> tuple[Step, Step]:
    """(reference step, vlkit step) of MCAN-small on one shared batch and shared initial weights."""
    g = torch.Generator().manual_seed(0)
    size = BATCH["mcan_small"]
    valid = torch.randint(10, 101, (size,), generator=g) if boxes == "uniform" else torch.full((size,), 100)
    mask = torch.arange(100)[None] < valid[:, None]
    features = torch.rand(size, 100, 2048, generator=g) * mask[:, :, None]  # zero rows after the boxes
    tokens, lengths = question_tokens(size, 14, 4, g)
    targets = soft_targets(size, ANSWERS["mcan_small"], g)
    batch = {"features": features, "feature_mask": mask, "tokens": tokens, "lengths": lengths, "targets": targets}
    batch = {key: value.to(device) for key, value in batch.items()}
    model, vlkit = vlkit_step("mcan_small", batch, device, precision, compile_model)
    reference = ReferenceMcan(VOCAB, ANSWERS["mcan_small"]).to(device).train()
    reference.load_state_dict(model.state_dict())
    optimizer = torch.optim.Adam(reference.parameters(), lr=1e-4, betas=(0.9, 0.98), eps=1e-9)
    return (lambda: mcan_training_step(reference, optimizer, batch["features"], batch["tokens"], targets.to(device)),
            vlkit)


def saaa_steps(device: torch.device, precision: str, compile_model: bool) -> tuple[Step, Step]:
    """(reference step, vlkit step) of SAAA on one shared batch and shared initial weights."""
    g = torch.Generator().manual_seed(0)
    size = BATCH["saaa"]
    features = torch.rand(size, 196, 2048, generator=g)
    tokens, lengths = question_tokens(size, 23, 4, g)
    targets = soft_targets(size, ANSWERS["saaa"], g)
    batch = {"features": features, "feature_mask": torch.ones(size, 196, dtype=torch.bool), "tokens": tokens,
             "lengths": lengths, "targets": targets}
    batch = {key: value.to(device) for key, value in batch.items()}
    grid = features.transpose(1, 2).reshape(size, 2048, 14, 14).contiguous().to(device)  # its HDF5 layout
    model, vlkit = vlkit_step("saaa", batch, device, precision, compile_model)
    reference = ReferenceSaaa(VOCAB, ANSWERS["saaa"]).to(device).train()
    reference.load_state_dict(model.state_dict())
    optimizer = torch.optim.Adam(reference.parameters())
    counts = (targets * 10).to(device)
    return lambda: saaa_training_step(reference, optimizer, grid, batch["tokens"], lengths, counts), vlkit



def profile(name: str, steps: dict[str, Step], rows: int) -> None:
    """Print the `rows` operators with the most self CPU time in one step of each implementation."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    for label, step in steps.items():
        step()
        with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
            step()
        print(f"\n### {name}, {label}: top {rows} operators by self CPU time\n")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows))


def compare(name: str, reference: Step, vlkit: Step, device: torch.device, rounds: int, steps: int) -> dict:
    """Alternating rounds of `steps` steps each; medians of samples/s and of the per-round ratios."""
    compile_seconds = timed(vlkit, device)  # includes torch.compile's tracing when --compile
    timed(reference, device)
    rates: dict[str, list[float]] = {"reference": [], "vlkit": []}
    for round_index in range(rounds):
        order = [("reference", reference), ("vlkit", vlkit)]
        for label, step in order if round_index % 2 == 0 else order[::-1]:
            seconds = [timed(step, device) for _ in range(steps)]
            rates[label].append(BATCH[name] / statistics.median(seconds))
    ratios = [v / r for v, r in zip(rates["vlkit"], rates["reference"])]
    return {"reference": statistics.median(rates["reference"]), "vlkit": statistics.median(rates["vlkit"]),
            "ratio": statistics.median(ratios), "ratios": ratios, "first_step_seconds": compile_seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="*", default=["mcan_small", "saaa"], choices=["mcan_small", "saaa"])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--boxes", default="uniform", choices=["uniform", "all"],
                        help="valid MCAN regions per image: uniform in 10-100 (adaptive bottom-up features) or all 100")
    parser.add_argument("--precision", default="32", choices=["32", "bf16-mixed"])
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    device = torch.device(args.device)
    name_of_device = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{platform.machine()} CPU"
    print(f"device: {name_of_device}, {os.cpu_count()} cores, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads); vlkit: precision {args.precision}, compile {args.compile}; "
          f"reference: fp32; {args.rounds} rounds x {args.steps} steps; MCAN boxes: {args.boxes}\n")
    if not args.profile:
        print("| model | batch | reference samples/s | vlkit samples/s | vlkit / reference (median of rounds) "
              "| per-round ratios | vlkit first step s |")
        print("| --- | ---: | ---: | ---: | ---: | --- | ---: |")
    for name in args.models:
        torch.manual_seed(0)
        reference, vlkit = (mcan_steps(device, args.boxes, args.precision, args.compile) if name == "mcan_small"
                            else saaa_steps(device, args.precision, args.compile))
        if args.profile:
            profile(name, {"reference": reference, "vlkit": vlkit}, rows=15)
            continue
        r = compare(name, reference, vlkit, device, args.rounds, args.steps)
        print(f"| {name} | {BATCH[name]} | {r['reference']:.1f} | {r['vlkit']:.1f} | {r['ratio']:.2f}x "
              f"| {', '.join(f'{x:.2f}' for x in r['ratios'])} | {r['first_step_seconds']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
