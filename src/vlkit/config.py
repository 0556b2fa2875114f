"""Typed run configuration: dataclass schema, YAML files and `key=value` command-line overrides.

The dataclass defaults *are* the embedded default recipe (easy-VQA, `cnn_lstm_att`), so
`vlkit vqa train` with no arguments trains it; `configs/vqa/cnn_lstm_att_easyvqa.yaml` spells the
same values out. The `model` section is validated against the options dataclass of the model it
names (see `vlkit.registry`), so every model declares its own keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException, ValidationError

from vlkit.errors import VlkitError
from vlkit.registry import get_model_entry


@dataclass
class RunConfig:
    """Where the run directory goes: `<root>/<task>/<name>-<timestamp>/`."""

    root: str = "runs"
    name: str = "cnn_lstm_att_easyvqa"


@dataclass
class DataConfig:
    """Dataset, split and loader settings.

    easy_vqa: images end to end from `root` (default: the easy-vqa package), validation held out by image.
    vqa: the official VQA files in `root` over the feature store `features`; splits by name.
    """

    dataset: str = "easy_vqa"  # easy_vqa | vqa
    root: Optional[str] = None  # easy_vqa: None = the files shipped in the `easy-vqa` package
    features: Optional[str] = None  # vqa: feature store directory
    train_split: str = "train"  # vqa: train | train+val | train+val+vg
    val_split: str = "val"  # vqa
    test_split: Optional[str] = None  # vqa: test-dev (default) | test | val
    answers: str = "mcan"  # vqa: answer list and its normalisation, mcan | pytorch-vqa
    tokenizer: str = "mcan"  # vqa: question tokens, mcan | pytorch-vqa | words
    version: str = "v2"  # vqa: v1 | v2 file names
    legacy_metric: bool = False  # vqa: validate with the pre-2021 official evaluator
    val_fraction: float = 0.1  # share of *train images* held out for validation
    split_seed: int = 0
    image_size: int = 64  # images are resized to image_size x image_size
    max_question_len: int = 16
    batch_size: int = 64  # per device; the global batch is batch_size x devices x accumulation
    eval_batch_size: int = 256
    num_workers: int = 0
    group_by_image: bool = True  # batch the questions of one image together: each image encoded once
    train_subset: Optional[int] = None  # keep only the first N train questions (smoke tests)
    eval_subset: Optional[int] = None  # keep only the first N validation/test questions


@dataclass
class ImageEncoderConfig:
    """The small CNN put in front of a feature-reading model (mcan, saaa, bow, ...) on an image dataset.

    Used only when data.dataset yields images (easy_vqa) and the model reads features; it is trained
    end to end and its last stage width must equal model.feature_dim.
    """

    cnn_channels: list[int] = field(default_factory=lambda: [32, 64, 128])


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
    seed: int = 0
    deterministic: bool = False
    progress_bar: bool = True
    log_every_n_steps: int = 50
    threads: Optional[int] = None  # torch intra-op threads; None keeps torch's default


@dataclass
class VQAConfig:
    """The whole configuration of a VQA run."""

    task: str = "vqa"
    run: RunConfig = field(default_factory=RunConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model: dict[str, Any] = field(default_factory=lambda: {"name": "cnn_lstm_att"})
    image_encoder: ImageEncoderConfig = field(default_factory=ImageEncoderConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)


def load_config(config_file: Optional[str | Path] = None, overrides: Optional[list[str]] = None) -> DictConfig:
    """Defaults, then the YAML file, then `key=value` overrides; returns the validated config.

    Unknown keys and values of the wrong type raise `VlkitError` naming the key and the valid ones.
    """
    config = OmegaConf.structured(VQAConfig)
    if config_file is not None:
        config = _merge(config, _read_yaml(Path(config_file)), f"config file {config_file}")
    if overrides:
        config = _merge(config, _parse_overrides(overrides), "command-line overrides")
    return resolve_model_section(config)


def resolve_model_section(config: DictConfig) -> DictConfig:
    """Validate `config.model` against its model's options dataclass and fill in its defaults."""
    model = OmegaConf.to_container(config.model)
    if "name" not in model:
        raise VlkitError("config section 'model' needs a 'name'")
    entry = get_model_entry(model["name"])
    options = _merge(OmegaConf.structured(entry.options), {k: v for k, v in model.items() if k != "name"},
                     f"model {entry.name!r} options", section="model")
    resolved = OmegaConf.to_container(config)
    resolved["model"] = {"name": entry.name, **OmegaConf.to_container(options)}
    return _merge(OmegaConf.structured(VQAConfig), resolved, "resolved config")


def model_options(config: DictConfig) -> Any:
    """The options dataclass instance of the configured model."""
    entry = get_model_entry(config.model.name)
    values = {k: v for k, v in OmegaConf.to_container(config.model).items() if k != "name"}
    return entry.options(**values)


def save_config(config: DictConfig, path: Path) -> None:
    """Write the resolved config as YAML."""
    path.write_text(OmegaConf.to_yaml(config))


def _read_yaml(path: Path) -> DictConfig:
    if not path.is_file():
        raise VlkitError(f"config file not found: {path}")
    try:
        loaded = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise VlkitError(f"config file {path} is not valid YAML: {error}") from error
    if not isinstance(loaded, dict):
        raise VlkitError(f"config file {path} must hold a mapping of sections, found {type(loaded).__name__}")
    return OmegaConf.create(loaded)


def _parse_overrides(overrides: list[str]) -> DictConfig:
    for item in overrides:
        if "=" not in item or item.startswith("="):
            raise VlkitError(f"override {item!r} is not of the form key=value (e.g. trainer.max_epochs=5)")
    try:
        return OmegaConf.from_dotlist(list(overrides))
    except OmegaConfBaseException as error:
        raise VlkitError(f"cannot parse overrides {overrides}: {error}") from error


def _merge(base: DictConfig, update: Any, source: str, section: str = "") -> DictConfig:
    """Merge `update` into the struct config `base`, turning OmegaConf errors into clear messages."""
    try:
        return OmegaConf.merge(base, update)
    except (ConfigKeyError, ConfigAttributeError) as error:
        key = _full_key(error, section)
        raise VlkitError(f"unknown config key {key!r} in {source}; {_valid_keys(base, key, section)}") from error
    except ValidationError as error:
        key = _full_key(error, section)
        raise VlkitError(f"invalid value for {key!r} in {source}: {error.msg}") from error


def _full_key(error: OmegaConfBaseException, section: str) -> str:
    key = str(getattr(error, "full_key", "") or getattr(error, "key", ""))
    return f"{section}.{key}" if section else key


def _valid_keys(base: DictConfig, key: str, section: str) -> str:
    """Describe the valid keys at the level where `key` failed."""
    parts = key.split(".")
    if section:
        parts = parts[1:]
    node: Any = base
    for part in parts[:-1]:
        if isinstance(node, DictConfig) and part in node:
            node = node[part]
    where = ".".join(([section] if section else []) + parts[:-1]) or "top level"
    if isinstance(node, DictConfig):
        names = sorted(str(k) for k in node.keys())
        if section == "model":
            names = sorted(names + ["name"])
        return f"valid keys at {where}: {', '.join(names)}"
    return f"{where} takes no sub-keys"

