"""The config sections every task shares: `run` (where the run directory goes), `optim` and `trainer`.

Each section checks its values when it is built (`__post_init__`), so a bad value is refused while
the config is loaded, before any work starts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from vlkit.core.errors import InvalidValue
from vlkit.core.validation import check_choice, check_non_negative, check_positive, check_positive_int

RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
PRECISIONS = ("32", "32-true", "bf16-mixed", "16-mixed")  # what every model trains in (16-mixed on a GPU only)
MATMUL_PRECISIONS = ("highest", "high", "medium")  # torch.set_float32_matmul_precision; high = TF32 on GPUs


def check_devices(devices: Any) -> None:
    """trainer.devices: a count >= 1, -1 (every GPU), "auto", a list of device indices or "0,1"."""
    if isinstance(devices, bool):
        valid = False
    elif isinstance(devices, int):
        valid = devices >= 1 or devices == -1
    elif isinstance(devices, str):
        valid = devices == "auto" or all(part.strip().isdigit() for part in devices.split(",") if part.strip())
    else:
        valid = bool(devices) and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in devices)
    if not valid:
        raise InvalidValue("devices", devices, 'a count >= 1, -1, "auto", a list of device indices or "0,1"')


def trains_on_gpu(accelerator: str) -> bool:
    """Whether trainer.accelerator puts training on a CUDA GPU ("gpu", "cuda", or "auto" on a machine with one)."""
    import torch

    return accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available())


def check_accelerator(accelerator: str, precision: str) -> None:
    """trainer.accelerator is one Lightning knows and this machine has; 16-mixed needs a GPU."""
    import torch
    from lightning.pytorch.accelerators import AcceleratorRegistry

    choices = ["auto", "gpu", *AcceleratorRegistry.available_accelerators()]
    if accelerator not in choices:
        raise InvalidValue("accelerator", accelerator, "one of " + ", ".join(choices))
    gpu = trains_on_gpu(accelerator)
    if accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise InvalidValue("accelerator", accelerator, "cpu or auto: this machine has no CUDA GPU")
    if precision == "16-mixed" and not gpu:
        raise InvalidValue("precision", precision, "32 or bf16-mixed on a CPU (16-mixed needs a GPU)")


def check_compile(compile_model: bool, accelerator: str) -> None:
    """trainer.compile needs what torch.compile builds kernels with: a C++ compiler on the CPU, Triton on a GPU."""
    import importlib.util
    import os
    import shutil

    if not compile_model:
        return
    gpu = trains_on_gpu(accelerator)
    if gpu and importlib.util.find_spec("triton") is None:
        raise InvalidValue("compile", compile_model, "false here: torch.compile on a GPU needs Triton (pip install triton)")
    compilers = [os.environ["CXX"]] if os.environ.get("CXX") else ["g++", "clang++", "c++"]
    if not gpu and not any(shutil.which(compiler) for compiler in compilers):
        raise InvalidValue("compile", compile_model, "false here: torch.compile on the CPU needs a C++ compiler "
                           f"({' or '.join(compilers)} on PATH)")


def check_strategy(strategy: str) -> None:
    """trainer.strategy is one Lightning knows."""
    from lightning.pytorch.strategies import StrategyRegistry

    choices = ["auto", *StrategyRegistry.available_strategies()]
    if strategy not in choices:
        raise InvalidValue("strategy", strategy, "one of auto, ddp, ddp_spawn, fsdp, ... (Lightning's strategies)")


@dataclass
class RunConfig:
    """Where the run directory goes: `<root>/<task>/<name>-<timestamp>/` (the task sets the default name)."""

    root: str = "runs"
    name: str = "run"

    def __post_init__(self) -> None:
        if not RUN_NAME.fullmatch(self.name):
            raise InvalidValue("name", self.name, "a plain name of letters, digits, '.', '_' and '-' that starts "
                                                  "with a letter or digit (no '/' and no '..')")
        if Path(self.root).exists() and not Path(self.root).is_dir():
            raise InvalidValue("root", self.root, "a directory (this path is a file)")


@dataclass
class OptimConfig:
    """Adam with an optional linear warm-up and a step decay at fixed epochs (0-based epoch indices).

    Epoch e < lr_warmup_epochs runs at lr x (e + 1) / (lr_warmup_epochs + 1) (MCAN: 3 -> 1/4, 2/4, 3/4);
    each epoch listed in lr_decay_epochs multiplies the rate by lr_decay_factor from then on. Or,
    instead, lr_halflife_steps halves the rate continuously every that many optimiser steps.
    """

    lr: float = 1e-3
    weight_decay: float = 0.0
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    eps: float = 1e-8
    lr_warmup_epochs: int = 0
    lr_decay_epochs: list[int] = field(default_factory=list)
    lr_decay_factor: float = 0.1
    lr_halflife_steps: Optional[int] = None  # lr x 0.5^(step / halflife) per optimiser step (pytorch-vqa)

    def __post_init__(self) -> None:
        check_positive(self, "lr", "eps", "lr_decay_factor")
        check_non_negative(self, "weight_decay", "lr_warmup_epochs")
        check_positive_int(self, "lr_halflife_steps", optional=True)
        if len(self.betas) != 2 or not all(0 <= beta < 1 for beta in self.betas):
            raise InvalidValue("betas", self.betas, "two numbers in [0, 1)")
        if any(isinstance(e, bool) or not isinstance(e, int) or e < 0 for e in self.lr_decay_epochs):
            raise InvalidValue("lr_decay_epochs", self.lr_decay_epochs, "a list of epoch indices >= 0")
        if self.lr_halflife_steps and (self.lr_decay_epochs or self.lr_warmup_epochs):
            raise InvalidValue("lr_halflife_steps", self.lr_halflife_steps,
                               "null when lr_warmup_epochs or lr_decay_epochs are set (one schedule at a time)")


@dataclass
class TrainerConfig:
    """Lightning Trainer settings: DDP, precision and accumulation are config changes only."""

    max_epochs: int = 20
    patience: int = 3  # early stopping: epochs without a better validation metric
    min_delta: float = 0.0
    precision: str = "32"  # 32 | bf16-mixed | 16-mixed
    accelerator: str = "auto"
    devices: Any = 1
    num_nodes: int = 1
    strategy: str = "auto"  # e.g. ddp
    accumulate_grad_batches: int = 1
    gradient_clip_val: Optional[float] = None
    gradient_clip_algorithm: str = "norm"  # norm: rescale the gradient norm | value: clamp each gradient entry
    seed: int = 0
    deterministic: bool = False
    progress_bar: bool = True
    log_every_n_steps: int = 50
    threads: Optional[int] = None  # torch intra-op threads; None keeps torch's default
    compile: bool = False  # torch.compile the model for training (the first steps compile; keys unchanged)
    matmul_precision: str = "high"  # fp32 matmuls while training: high = TF32 on GPUs that have it | highest

    def __post_init__(self) -> None:
        check_positive_int(self, "max_epochs", "num_nodes", "accumulate_grad_batches", "log_every_n_steps")
        check_positive_int(self, "threads", optional=True)
        check_non_negative(self, "patience", "min_delta")
        check_positive(self, "gradient_clip_val", optional=True)
        check_choice(self, "precision", PRECISIONS)
        check_choice(self, "gradient_clip_algorithm", ("norm", "value"))
        check_devices(self.devices)
        check_accelerator(self.accelerator, self.precision)
        check_strategy(self.strategy)
        check_choice(self, "matmul_precision", MATMUL_PRECISIONS)
        check_compile(self.compile, self.accelerator)
