"""Typed experiment configuration: the generic sections, the task's sections, YAML files and `key=value` overrides.

Every experiment has the generic sections `run`, `optim` and `trainer` (`config_sections`), plus its task's
sections: `data` (its keys are the options dataclass of the dataset named by `data.dataset`),
`model` (the options dataclass of the model named by `model.name`) and any fixed section the task
declares (VQA: `image_encoder`). Values come from the defaults, then a YAML file, then `key=value`
overrides; an unknown key is an error naming the key and the valid keys at its level. The result is
resolved once into a `Config` of typed dataclass instances.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import (
    ConfigAttributeError,
    ConfigKeyError,
    OmegaConfBaseException,
    ValidationError,
)

from vlkit.core.config_sections import OptimConfig, RunConfig, TrainerConfig
from vlkit.core.errors import InvalidValue, VlkitError
from vlkit.core.files import write_text_atomic
from vlkit.core.registry import DatasetEntry, ModelEntry, Registry

if TYPE_CHECKING:
    from vlkit.core.task import Task


@dataclass
class Config:
    """A resolved experiment: typed sections, and the registry entries its data and model sections name."""

    task: str
    run: RunConfig
    data: Any  # options dataclass instance of `data_entry`
    model: Any  # options dataclass instance of `model_entry`
    optim: OptimConfig
    trainer: TrainerConfig
    sections: dict[str, Any]  # the task's fixed sections, name -> dataclass instance
    data_entry: DatasetEntry
    model_entry: ModelEntry

    def to_dict(self) -> dict:
        """The config as plain data, laid out as in YAML files and `config.yaml` of a run."""
        return {
            "task": self.task,
            "run": dataclasses.asdict(self.run),
            "data": {"dataset": self.data_entry.name, **dataclasses.asdict(self.data)},
            "model": {"name": self.model_entry.name, **dataclasses.asdict(self.model)},
            **{name: dataclasses.asdict(value) for name, value in self.sections.items()},
            "optim": dataclasses.asdict(self.optim),
            "trainer": dataclasses.asdict(self.trainer),
        }


SELECTORS = {"data": "dataset", "model": "name"}  # the key of each section that names its registry entry


def load_config(task: "Task", config_file: Optional[str | Path] = None,
                overrides: Optional[list[str]] = None) -> Config:
    """The task's defaults, then the YAML file (or, without one, the task's embedded recipe), then `key=value`
    overrides, resolved into a `Config`.

    Unknown keys and values of the wrong type raise `VlkitError` naming the key and the valid ones.
    """
    layers = []
    parsed = parse_overrides(overrides) if overrides else None
    if config_file is not None:
        layers.append((f"config file {config_file}", read_yaml(Path(config_file))))
    elif task.embedded_recipe:
        layers.append(("the embedded recipe", embedded_recipe(task, parsed)))
    if parsed is not None:
        layers.append(("command-line overrides", parsed))
    return resolve_config(task, layers)


def embedded_recipe(task: "Task", overrides: Optional[DictConfig]) -> DictConfig:
    """The task's embedded recipe, without its data or model section where the overrides name another dataset or
    model (the recipe's keys belong to its own)."""
    recipe = OmegaConf.create(task.embedded_recipe)
    for section, selector in SELECTORS.items():
        chosen = OmegaConf.select(overrides, f"{section}.{selector}") if overrides is not None else None
        if chosen is not None and chosen != OmegaConf.select(recipe, f"{section}.{selector}"):
            recipe.pop(section, None)
    return recipe


def load_run_config(task: "Task", run_dir: Path, overrides: Optional[list[str]] = None) -> Config:
    """The config a run saved (`config.yaml`, brought up to date by the task), then `key=value` overrides."""
    path = run_dir / "config.yaml"
    saved = task.upgrade_saved_config(OmegaConf.to_container(read_yaml(path)))
    layers = [(f"run config {path}", OmegaConf.create(saved))]
    if overrides:
        layers.append(("command-line overrides", parse_overrides(overrides)))
    return resolve_config(task, layers)


def resolve_config(task: "Task", layers: list[tuple[str, DictConfig]]) -> Config:
    """Merge `(source, values)` layers over the task's defaults and resolve the sections into dataclasses."""
    merged = OmegaConf.structured(_schema(task))
    for source, values in layers:
        _check_sections_are_mappings(merged, values, source)
        merged = _merge(merged, values, source)
    try:
        OmegaConf.resolve(merged)
    except OmegaConfBaseException as error:  # an interpolation ${...} that names nothing
        raise VlkitError(f"cannot resolve the config: {str(error).splitlines()[0]}") from error
    if merged.task != task.name:
        raise VlkitError(f"this config is for task {merged.task!r}, not {task.name!r}: "
                         f"run it with vlkit {merged.task} ..., or set task: {task.name}")
    data_entry, data = _resolve_selected(merged, "data", task.datasets)
    model_entry, model = _resolve_selected(merged, "model", task.models)
    config = Config(
        task=task.name,
        run=_to_object(merged.run, "run"),
        data=data,
        model=model,
        optim=_to_object(merged.optim, "optim"),
        trainer=_to_object(merged.trainer, "trainer"),
        sections={name: _to_object(merged[name], name) for name in task.sections},
        data_entry=data_entry,
        model_entry=model_entry,
    )
    task.validate_config(config)
    return config


def save_config(config: Config, path: Path) -> None:
    """Write the resolved config as YAML (atomically)."""
    write_text_atomic(path, OmegaConf.to_yaml(OmegaConf.create(config.to_dict())))


def read_yaml(path: Path) -> DictConfig:
    """A YAML file holding a mapping of sections, with errors that name the file."""
    if not path.is_file():
        raise VlkitError(f"config file not found: {path}")
    try:
        loaded = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise VlkitError(f"config file {path} is not valid YAML{where}: {problem}") from error
    if not isinstance(loaded, dict):
        raise VlkitError(f"config file {path} must hold a mapping of sections, found {type(loaded).__name__}")
    return OmegaConf.create(loaded)


def parse_overrides(overrides: list[str]) -> DictConfig:
    """`section.key=value` strings -> a nested config; values are typed by YAML rules."""
    for item in overrides:
        if "=" not in item or item.startswith("="):
            raise VlkitError(f"override {item!r} is not of the form key=value (e.g. trainer.max_epochs=5)")
    try:
        return OmegaConf.from_dotlist(list(overrides))
    except (OmegaConfBaseException, yaml.YAMLError) as error:
        raise VlkitError(f"cannot parse overrides {overrides}: {str(error).splitlines()[0]}") from error


def _schema(task: "Task") -> type:
    """The task's top-level schema: generic sections, the task's fixed sections, and the two selected
    sections as free mappings holding only their selector (checked later against the entry they name)."""
    fields: list[tuple[str, Any, Any]] = [
        ("task", str, task.name),
        ("run", RunConfig, field(default_factory=lambda: RunConfig(name=task.default_run_name))),
        ("data", dict[str, Any], field(default_factory=lambda: {"dataset": task.default_dataset})),
        ("model", dict[str, Any], field(default_factory=lambda: {"name": task.default_model})),
    ]
    fields += [(name, section, field(default_factory=section)) for name, section in task.sections.items()]
    fields += [("optim", OptimConfig, field(default_factory=OptimConfig)),
               ("trainer", TrainerConfig, field(default_factory=TrainerConfig))]
    return dataclasses.make_dataclass(f"{type(task).__name__}Schema", fields)


def _check_sections_are_mappings(schema: DictConfig, values: DictConfig, source: str) -> None:
    for name, value in OmegaConf.to_container(values, resolve=False).items():
        if name in schema and isinstance(schema[name], DictConfig) and not isinstance(value, dict):
            raise VlkitError(f"config section {name!r} in {source} must be a mapping of keys "
                             f"(e.g. {name}.<key>=value), got {value!r}")


def _resolve_selected(merged: DictConfig, section: str, registry: Registry) -> tuple[Any, Any]:
    """The entry that `<section>.<selector>` names and its options dataclass instance, validated."""
    selector = SELECTORS[section]
    values = OmegaConf.to_container(merged[section])
    name = values.pop(selector, None)
    if not isinstance(name, str):
        raise VlkitError(f"config section {section!r} needs '{selector}': one of {', '.join(registry.names())}")
    if name not in registry:
        raise VlkitError(f"unknown {section}.{selector} {name!r}; registered {registry.kind}s: "
                         f"{', '.join(registry.names())}")
    entry = registry.get(name)
    options = _merge(OmegaConf.structured(entry.options), values, f"{registry.kind} {name!r} options",
                     section=section, extra_keys=(selector,))
    return entry, _to_object(options, section)


def _to_object(node: DictConfig, section: str) -> Any:
    """The dataclass instance of a config section; a value its `__post_init__` refuses names the full key."""
    try:
        return OmegaConf.to_object(node)
    except InvalidValue as error:
        raise error.in_section(section) from None


def _merge(base: DictConfig, update: Any, source: str, section: str = "", extra_keys: tuple[str, ...] = ()
           ) -> DictConfig:
    """Merge `update` into the struct config `base`, turning OmegaConf errors into clear messages."""
    try:
        return OmegaConf.merge(base, update)
    except (ConfigKeyError, ConfigAttributeError) as error:
        key = _full_key(error, section)
        raise VlkitError(f"unknown config key {key!r} in {source}; "
                         f"{_valid_keys(base, key, section, extra_keys)}") from error
    except ValidationError as error:
        key = _full_key(error, section)
        raise VlkitError(f"invalid value for {key!r} in {source}: {error.msg.splitlines()[0]}") from error


def _full_key(error: OmegaConfBaseException, section: str) -> str:
    key = str(getattr(error, "full_key", "") or getattr(error, "key", ""))
    return f"{section}.{key}" if section else key


def _valid_keys(base: DictConfig, key: str, section: str, extra_keys: tuple[str, ...]) -> str:
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
        if node is base:
            names = sorted(names + list(extra_keys))
        return f"valid keys at {where}: {', '.join(names)}"
    return f"{where} takes no sub-keys"
