"""Training steps of vlkit's DualVGR against NJUPT-MCC/DualVGR-VideoQA's, on MSVD-QA-shaped features, in one process.

The baseline is benchmarks/reference_dualvgr_training.py: the repository's model laid out as it lays it
out (per-head GAT modules in Python loops over (B, C, C, 2H) pair tensors, the word attention's mask
built row by row, the HSIC summed by a loop of traces, ...) and train.py's step (cross-entropy +
alpha * covariance matching + beta * HSIC, backward, gradient norm clipped at 12, Adam). Both models
hold the same weights: vlkit's state dict is loaded into the baseline (the keys are the repository's).
vlkit's step is its real one: the model from configs/videoqa/dualvgr_msvd.yaml (`model.glove=none`),
`VideoQAModule.loss`, the Adam that `configure_optimizers` makes (fused) and the recipe's
`trainer.gradient_clip_val` (12, by norm, as Lightning clips); Lightning's logging is left out.

Batch (random, seeded): MSVD-QA's shapes, 8 clips x 16 frames x 2048 appearance values, 8 x 2048
motion values, questions of 5-15 words (mean 10) over a 4,000-word vocabulary, 0-padded to the
batch's longest, answers over 1,854 classes. The recipe's batch is 256; on a CPU use a smaller
`--batch-size` (the default 32).

Before timing, both compute the loss of the batch in eval mode, in float64 (the covariance-matching
term centres GAT outputs that differ across clips by ~0.1% of their norm, so in float32 its rounding
alone moves the total loss by up to ~1e-2 relative); they must agree within 1e-4 relative, or the
script stops. Then one untimed warm-up step each and `--steps` timed steps of each, interleaved
(reference, vlkit, vlkit, reference, ...). Reported: the median seconds per step and samples/s of each,
vlkit / reference as the ratio of the medians and the median of the per-pair ratios, and the peak
memory of a training step of each, measured in a child process of its own: on a CPU the peak resident
set size above the size before the model was built (batch and torch already loaded), on a GPU
`torch.cuda.max_memory_allocated` (the whole peak: weights, Adam state, batch and activations).
`--profile` prints, for one step of each under torch.profiler, the forward time per module, the
backward and optimiser totals and the operators with the most self CPU time.

Usage: python benchmarks/videoqa_training_speed.py [--device cpu|cuda] [--batch-size 32] [--steps 8]
       [--threads 1] [--json FILE] [--skip-memory] [--profile]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Callable

import torch
from torch import nn

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from timing import timed  # noqa: E402
from reference_dualvgr_training import (ReferenceDualVGR, reference_loss,  # noqa: E402
                                        reference_training_step)

from vlkit.core.config import load_config  # noqa: E402
from vlkit.videoqa.models import MODELS  # noqa: E402
from vlkit.videoqa.module import VideoQAModule  # noqa: E402
from vlkit.videoqa.task import VideoQATask  # noqa: E402

VOCAB = 4000
ANSWERS = 1854
CLIPS, FRAMES, FEATURE_DIM = 8, 16, 2048
SHORTEST, LONGEST = 5, 15
RECIPE = REPO / "configs" / "videoqa" / "dualvgr_msvd.yaml"
LOSS_TOLERANCE = 1e-4
IMPLEMENTATIONS = ("reference", "vlkit")
Step = Callable[[], float]



def resident_mib(field: str = "VmRSS") -> float:
    """This process's current resident set size (VmRSS) or its peak (VmHWM) in MiB (Linux). The peak is read here,
    not from getrusage's ru_maxrss, which a child process inherits from its parent across fork and exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def make_batch(size: int, device: torch.device) -> dict[str, torch.Tensor]:
    """A seeded MSVD-QA-shaped batch: appearance (B, 8, 16, 2048), motion (B, 8, 2048), questions (B, L) int64
    0-padded to the longest of 5-15 words, question_lengths (B,), answers (B,), index (B,)."""
    generator = torch.Generator().manual_seed(0)
    lengths = torch.randint(SHORTEST, LONGEST + 1, (size,), generator=generator)
    width = int(lengths.max())
    questions = torch.randint(1, VOCAB, (size, width), generator=generator)
    questions[torch.arange(width)[None, :] >= lengths[:, None]] = 0
    batch = {"appearance": torch.rand(size, CLIPS, FRAMES, FEATURE_DIM, generator=generator),
             "motion": torch.rand(size, CLIPS, FEATURE_DIM, generator=generator),
             "questions": questions, "question_lengths": lengths,
             "answers": torch.randint(0, ANSWERS, (size,), generator=generator), "index": torch.arange(size)}
    return {key: value.to(device) for key, value in batch.items()}


def build_vlkit(device: torch.device) -> tuple[nn.Module, nn.Module, torch.optim.Optimizer, float]:
    """vlkit's DualVGR from the MSVD-QA recipe, its VideoQAModule, the module's optimiser and the clip norm."""
    config = load_config(VideoQATask(), RECIPE, ["model.glove=none"])
    model = MODELS.get("dualvgr").builder(config.model, vocab_size=VOCAB, num_answers=ANSWERS).to(device).train()
    module = VideoQAModule(config, model, VOCAB, ANSWERS)
    optimizer = module.configure_optimizers()
    optimizer = optimizer["optimizer"] if isinstance(optimizer, dict) else optimizer
    return model, module, optimizer, config.trainer.gradient_clip_val


def vlkit_training_step(model: nn.Module, module: nn.Module, optimizer: torch.optim.Optimizer, clip_norm: float,
                        batch: dict[str, torch.Tensor]) -> float:
    """vlkit's step: forward, `VideoQAModule.loss`, backward, gradient norm clipped, Adam; returns the loss."""
    optimizer.zero_grad(set_to_none=True)
    loss = module.loss(batch, model(batch))
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
    optimizer.step()
    return loss.item()


def build_reference(device: torch.device, state: dict[str, torch.Tensor] | None = None
                    ) -> tuple[ReferenceDualVGR, torch.optim.Optimizer, nn.Module]:
    """The repository's DualVGR (with `state` loaded when given), train.py's Adam(lr 1e-4) and criterion."""
    model = ReferenceDualVGR(VOCAB, ANSWERS, vision_dim=FEATURE_DIM, num_of_nodes=CLIPS)
    if state is not None:
        model.load_state_dict(state)
    model = model.to(device).train()
    return model, torch.optim.Adam(model.parameters(), 1e-4), nn.CrossEntropyLoss().to(device)


def implementation_steps(device: torch.device, batch: dict[str, torch.Tensor], which: tuple[str, ...]
                         ) -> tuple[dict[str, Step], dict[str, nn.Module], nn.Module | None]:
    """Training-step closures of the chosen implementations on `batch` (shared initial weights), their models and
    vlkit's VideoQAModule (None when vlkit is not chosen)."""
    steps: dict[str, Step] = {}
    models: dict[str, nn.Module] = {}
    module = None
    state = None
    if "vlkit" in which:
        model, module, optimizer, clip_norm = build_vlkit(device)
        steps["vlkit"] = lambda: vlkit_training_step(model, module, optimizer, clip_norm, batch)
        models["vlkit"] = model
        state = {key: value.cpu() for key, value in model.state_dict().items()}
    if "reference" in which:
        reference, reference_optimizer, criterion = build_reference(device, state)
        steps["reference"] = lambda: reference_training_step(reference, reference_optimizer, criterion, batch)
        models["reference"] = reference
    return steps, models, module


def eval_losses(models: dict[str, nn.Module], module: nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, float]:
    """The loss of `batch` under each model in eval mode, computed in float64 (models and features converted there
    and back, exactly); the models are left in train mode."""
    losses = {}
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # the repository builds its HSIC centring matrix in the default dtype
    try:
        wide = {key: value.double() if value.is_floating_point() else value for key, value in batch.items()}
        for name, model in models.items():
            model.double().eval()
            with torch.no_grad():
                if name == "vlkit":
                    loss = module.loss(wide, model(wide))
                else:
                    outputs = model(wide["appearance"], wide["motion"], wide["questions"], wide["question_lengths"])
                    loss = reference_loss(outputs, wide["answers"], nn.CrossEntropyLoss(), 1.0, 1e-8, CLIPS)
            losses[name] = loss.item()
            model.float().train()
    finally:
        torch.set_default_dtype(previous)
    return losses



def interleaved(steps: dict[str, Step], device: torch.device, count: int) -> dict[str, list[float]]:
    """`count` timed steps of each implementation, alternating which goes first: R V, V R, R V, ..."""
    seconds: dict[str, list[float]] = {name: [] for name in IMPLEMENTATIONS}
    for index in range(count):
        for name in IMPLEMENTATIONS if index % 2 == 0 else IMPLEMENTATIONS[::-1]:
            seconds[name].append(timed(steps[name], device))
    return seconds


def memory_probe(implementation: str, device: torch.device, batch_size: int) -> dict[str, float]:
    """In this (child) process: the batch, then one implementation's model, optimiser and two training steps ->
    peak resident MiB above the size before the model was built and, on a GPU, max_memory_allocated MiB."""
    batch = make_batch(batch_size, device)
    baseline_mib = resident_mib()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    steps, _, _ = implementation_steps(device, batch, (implementation,))
    for _ in range(2):
        timed(steps[implementation], device)
    result = {"peak_rss_mib": resident_mib("VmHWM") - baseline_mib}
    if device.type == "cuda":
        result["cuda_max_allocated_mib"] = torch.cuda.max_memory_allocated(device) / 2 ** 20
    return result


def measure_memory(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """`memory_probe` of each implementation, each in a fresh child process; a failed probe is reported on stderr
    and left out (the timings already taken are kept)."""
    results = {}
    for name in IMPLEMENTATIONS:
        command = [sys.executable, __file__, "--memory-probe", name, "--device", args.device,
                   "--batch-size", str(args.batch_size), "--threads", str(args.threads)]
        child = subprocess.run(command, capture_output=True, text=True)
        if child.returncode != 0:
            print(f"the memory probe of {name} failed:\n{child.stderr[-3000:]}", file=sys.stderr)
            continue
        results[name] = json.loads(child.stdout.strip().splitlines()[-1])
    return results


class ModuleRanges:
    """Profiler ranges named `forward: <module>` around the forward of every module at most `depth` names deep."""

    def __init__(self, model: nn.Module, depth: int):
        self.open: list[torch.autograd.profiler.record_function] = []
        self.handles = []
        for name, child in model.named_modules():
            if name and name.count(".") < depth:
                self.handles.append(child.register_forward_pre_hook(self.enter(name)))
                self.handles.append(child.register_forward_hook(self.leave))

    def enter(self, name: str) -> Callable:
        def hook(module: nn.Module, inputs: tuple) -> None:
            self.open.append(torch.autograd.profiler.record_function(f"forward: {name}"))
            self.open[-1].__enter__()
        return hook

    def leave(self, module: nn.Module, inputs: tuple, outputs: object) -> None:
        self.open.pop().__exit__(None, None, None)

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


def profile(steps: dict[str, Step], models: dict[str, nn.Module], rows: int) -> None:
    """Print, for one step of each implementation under torch.profiler: milliseconds per forward range, the backward
    and optimiser totals, and the `rows` operators with the most self CPU time."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    for name in IMPLEMENTATIONS:
        steps[name]()
        ranges = ModuleRanges(models[name], depth=3)
        with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
            steps[name]()
        ranges.remove()
        events = prof.key_averages()
        total_ms = sum(e.self_cpu_time_total for e in events) / 1e3
        backward_ms = sum(e.cpu_time_total for e in events
                          if e.key.startswith("autograd::engine::evaluate_function")) / 1e3
        optimizer_ms = sum(e.cpu_time_total for e in events if e.key.startswith("Optimizer.step")) / 1e3
        print(f"\n### {name}: one step under the profiler, {total_ms:.0f} ms of CPU time; backward {backward_ms:.0f} ms, "
              f"optimiser step {optimizer_ms:.0f} ms\n")
        print("| forward of | ms | calls |\n| --- | ---: | ---: |")
        forwards = sorted((e for e in events if e.key.startswith("forward: ")), key=lambda e: -e.cpu_time_total)
        for event in forwards:
            print(f"| {event.key[len('forward: '):]} | {event.cpu_time_total / 1e3:.1f} | {event.count} |")
        print("\n| operator (self CPU) | ms | share | calls |\n| --- | ---: | ---: | ---: |")
        operators = sorted((e for e in events if not e.key.startswith("forward: ")), key=lambda e: -e.self_cpu_time_total)
        for event in operators[:rows]:
            print(f"| {event.key} | {event.self_cpu_time_total / 1e3:.1f} | "
                  f"{100 * event.self_cpu_time_total / 1e3 / total_ms:.1f}% | {event.count} |")
        backward = sorted((e for e in events if e.key.startswith("autograd::engine::evaluate_function")),
                          key=lambda e: -e.cpu_time_total)
        print("\n| backward function (total CPU) | ms | calls |\n| --- | ---: | ---: |")
        for event in backward[:rows]:
            print(f"| {event.key.split(': ', 1)[1]} | {event.cpu_time_total / 1e3:.1f} | {event.count} |")


def describe_device(device: torch.device) -> str:
    """The device in words: the GPU's name, or the CPU's architecture and core count."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{platform.machine()} CPU, {os.cpu_count()} cores"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=8, help="timed steps of each implementation")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument("--skip-memory", action="store_true", help="leave out the peak-memory child processes")
    parser.add_argument("--profile", action="store_true", help="profile one step of each instead of timing")
    parser.add_argument("--memory-probe", choices=IMPLEMENTATIONS, help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message=".*self.log.*")  # VideoQAModule.loss logs; no trainer here
    device = torch.device(args.device)
    torch.manual_seed(0)
    if args.memory_probe:
        print(json.dumps(memory_probe(args.memory_probe, device, args.batch_size)))
        return

    batch = make_batch(args.batch_size, device)
    steps, models, module = implementation_steps(device, batch, IMPLEMENTATIONS)
    print(f"DualVGR training step, MSVD-QA shapes: batch {args.batch_size}, {CLIPS} clips x {FRAMES} frames x "
          f"{FEATURE_DIM}, questions {SHORTEST}-{LONGEST} words padded to {batch['questions'].shape[1]}, "
          f"{VOCAB} words, {ANSWERS} answers; {describe_device(device)}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads", flush=True)
    losses = eval_losses(models, module, batch)
    difference = abs(losses["vlkit"] - losses["reference"]) / abs(losses["reference"])
    print(f"eval-mode loss of the batch (float64): reference {losses['reference']:.8f}, vlkit {losses['vlkit']:.8f}, "
          f"relative difference {difference:.1e}", flush=True)
    if difference > LOSS_TOLERANCE:
        sys.exit(f"the two implementations disagree on the loss by {difference:.1e} (> {LOSS_TOLERANCE}): "
                 "they do not compute the same thing")
    if args.profile:
        profile(steps, models, rows=20)
        return

    first_step = {name: timed(step, device) for name, step in steps.items()}  # warm-up
    seconds = interleaved(steps, device, args.steps)
    pair_ratios = [r / v for r, v in zip(seconds["reference"], seconds["vlkit"])]
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    memory = {} if args.skip_memory else measure_memory(args)
    results = {"device": describe_device(device), "torch": torch.__version__, "threads": torch.get_num_threads(),
               "batch_size": args.batch_size, "question_width": batch["questions"].shape[1], "steps": args.steps,
               "eval_loss": losses, "eval_loss_relative_difference": difference,
               "vlkit_over_reference": medians["reference"] / medians["vlkit"],
               "median_pair_ratio": statistics.median(pair_ratios), "pair_ratios": pair_ratios}
    for name in IMPLEMENTATIONS:
        results[name] = {"seconds": seconds[name], "first_step_seconds": first_step[name],
                         "median_seconds": medians[name], "samples_per_second": args.batch_size / medians[name],
                         **memory.get(name, {})}
    print("\n| implementation | median s/step | samples/s | peak memory MiB | s/step (every step) |")
    print("| --- | ---: | ---: | ---: | --- |")
    for name in IMPLEMENTATIONS:
        entry = results[name]
        peak = entry.get("cuda_max_allocated_mib", entry.get("peak_rss_mib"))
        print(f"| {name} | {entry['median_seconds']:.2f} | {entry['samples_per_second']:.2f} | "
              f"{'-' if peak is None else f'{peak:.0f}'} | {', '.join(f'{s:.2f}' for s in seconds[name])} |")
    print(f"\nvlkit / reference: {results['vlkit_over_reference']:.2f}x (ratio of medians), "
          f"{results['median_pair_ratio']:.2f}x (median of per-pair ratios: "
          f"{', '.join(f'{r:.2f}' for r in pair_ratios)})")
    if device.type == "cuda" and memory:
        resident = ", ".join(f"{name} {entry['peak_rss_mib']:.0f}" for name, entry in memory.items())
        print("peak memory: torch.cuda.max_memory_allocated of a child process per implementation "
              f"(peak RSS above the start, MiB: {resident})")
    elif memory:
        print("peak memory: peak RSS of a child process per implementation, above its size before the model was built")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
