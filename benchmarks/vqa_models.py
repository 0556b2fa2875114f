"""Training speed, memory and FLOPs of every VQA model on features of the real shapes.

For each model, in its own process: build it from its VQA v2 recipe (configs/vqa/<model>_vqa2.yaml)
with a 20,000-word vocabulary and 3,129 answers (3,000 for saaa), then time full training steps
(forward, loss, backward, Adam step) on random features of the shapes the recipe reads:

  bow                    pooled ResNet-152 vector, K = 1 x 2048
  concat_mean, lstm_qatt pooled ResNet-18 vector, K = 1 x 512
  lstm_spatial, qguided_att  ResNet-18 7x7 grid, K = 49 x 512
  saaa                   ResNet-152 14x14 grid, K = 196 x 2048
  mcan_small, mcan_large bottom-up-attention regions, K = 100 x 2048 with 10-100 valid boxes

Questions have 4-12 tokens (padded to the recipe's max_question_len). Reported per model: median
samples/s over the timed steps, peak memory (CUDA: max allocated; CPU: peak resident set size above
the process's size before the model was built), model FLOPs per training sample (forward + backward,
counted by torch.utils.flop_counter), and utilisation: achieved FLOP/s over the matmul peak
(a square fp32 matmul, or bf16 with --bf16, timed in the same process).

Usage: python benchmarks/vqa_models.py [--device cpu|cuda] [--steps 10] [--models saaa mcan_small ...] [--bf16]
Prints a Markdown table for docs/BENCHMARKS.md.
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
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from timing import synchronize  # noqa: E402
SHAPES = {  # model -> (rows K, feature dim D)
    "bow": (1, 2048), "concat_mean": (1, 512), "lstm_qatt": (1, 512), "lstm_spatial": (49, 512),
    "qguided_att": (49, 512), "saaa": (196, 2048), "mcan_small": (100, 2048), "mcan_large": (100, 2048),
}
VOCAB = 20000


def resident_mib() -> float:
    """Current resident set size of this process in MiB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def matmul_peak(device: torch.device, dtype: torch.dtype, size: int, repeats: int = 5) -> float:
    """Median FLOP/s of a (size x size) @ (size x size) matmul on `device`."""
    a, b = (torch.randn(size, size, device=device, dtype=dtype) for _ in range(2))
    times = []
    for _ in range(repeats + 1):
        synchronize(device)
        start = time.perf_counter()
        torch.mm(a, b)
        synchronize(device)
        times.append(time.perf_counter() - start)
    return 2 * size ** 3 / statistics.median(times[1:])



def make_batch(name: str, batch_size: int, max_len: int, device: torch.device) -> dict[str, torch.Tensor]:
    """Random features of the model's real shape, a mask, tokens and soft targets."""
    rows, dim = SHAPES[name]
    g = torch.Generator().manual_seed(0)
    valid = torch.randint(10, rows + 1, (batch_size,), generator=g) if rows == 100 else torch.full((batch_size,), rows)
    lengths = torch.randint(4, min(12, max_len) + 1, (batch_size,), generator=g)
    tokens = torch.randint(2, VOCAB, (batch_size, max_len), generator=g)
    tokens[torch.arange(max_len)[None] >= lengths[:, None]] = 0
    batch = {"features": torch.rand(batch_size, rows, dim, generator=g),
             "feature_mask": torch.arange(rows)[None] < valid[:, None], "tokens": tokens, "lengths": lengths}
    return {key: value.to(device) for key, value in batch.items()}


SAAA_QUESTION_TOKENS = 23


def measure(name: str, device_name: str, steps: int, bf16: bool) -> dict:
    """Build `name` from its recipe and time `steps` training steps; runs in a fresh process."""
    from torch.utils.flop_counter import FlopCounterMode

    from vlkit.core.config import load_config
    from vlkit.vqa.models import MODELS
    from vlkit.vqa.task import VQATask

    device = torch.device(device_name)
    config = load_config(VQATask(), REPO / "configs" / "vqa" / f"{name}_vqa2.yaml")
    answers = 3000 if name == "saaa" else 3129
    batch_size = config.data.batch_size
    baseline_mib = resident_mib()
    model = MODELS.get(name).builder(config.model, vocab_size=VOCAB, num_answers=answers).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    # saaa's recipe pads each split to its longest question (max_question_len null): time it on 23 tokens,
    # the length this benchmark has always used for it
    batch = make_batch(name, batch_size, config.data.max_question_len or SAAA_QUESTION_TOKENS, device)
    targets = torch.rand(batch_size, answers, device=device) * (torch.rand(batch_size, answers, device=device) < 0.002)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            logits = model(batch)["logits"].float()
        torch.nn.functional.binary_cross_entropy_with_logits(logits, targets, reduction="sum").backward()
        optimizer.step()

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    step()  # warm-up (allocations, kernel choice)
    with FlopCounterMode(display=False) as counter:
        step()
    flops_per_sample = counter.get_total_flops() / batch_size
    times = []
    for _ in range(steps):
        synchronize(device)
        start = time.perf_counter()
        step()
        synchronize(device)
        times.append(time.perf_counter() - start)
    if device.type == "cuda":
        peak_mib = torch.cuda.max_memory_allocated(device) / 2 ** 20
    else:
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - baseline_mib
    samples_per_second = batch_size / statistics.median(times)
    peak = matmul_peak(device, torch.bfloat16 if bf16 else torch.float32, 4096 if device.type == "cuda" else 1024)
    return {"model": name, "batch": batch_size, "parameters": sum(p.numel() for p in model.parameters()),
            "samples_per_second": samples_per_second, "peak_mib": peak_mib, "flops_per_sample": flops_per_sample,
            "matmul_peak": peak, "utilisation": flops_per_sample * samples_per_second / peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--models", nargs="*", default=list(SHAPES))
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast (the matmul peak is then bf16 too)")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # the child process: measure this model, print JSON
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.device, args.steps, args.bf16)))
        return
    device = torch.cuda.get_device_name() if args.device.startswith("cuda") else f"{platform.machine()} CPU"
    print(f"device: {device}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads), "
          f"{'bf16 autocast' if args.bf16 else 'fp32'}, {args.steps} timed steps\n")
    print("| model | batch | parameters | samples/s | peak memory MiB | GFLOPs/sample (train) | matmul peak GFLOP/s "
          "| utilisation |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name in args.models:
        command = [sys.executable, __file__, "--one", name, "--device", args.device, "--steps", str(args.steps)]
        result = subprocess.run(command + (["--bf16"] if args.bf16 else []), capture_output=True, text=True)
        if result.returncode != 0:
            sys.exit(f"{name} failed:\n{result.stderr[-3000:]}")
        r = json.loads(result.stdout.strip().splitlines()[-1])
        print(f"| {name} | {r['batch']} | {r['parameters']:,} | {r['samples_per_second']:.1f} | {r['peak_mib']:.0f} "
              f"| {r['flops_per_sample'] / 1e9:.3f} | {r['matmul_peak'] / 1e9:.0f} | {100 * r['utilisation']:.1f}% |",
              flush=True)


if __name__ == "__main__":
    main()
