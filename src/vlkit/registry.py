"""Model registry: maps the `model.name` of a config to a builder and the dataclass of its options.

A new model is one file that decorates its builder::

    @dataclass
    class MyModelOptions:
        hidden_dim: int = 512

    @register_model("my_model", MyModelOptions)
    def build_my_model(options: MyModelOptions, vocab_size: int, num_answers: int) -> nn.Module: ...
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from torch import nn

from vlkit.errors import VlkitError


@dataclass(frozen=True)
class ModelEntry:
    """A registered model: its builder and the dataclass holding its options."""

    name: str
    builder: Callable[..., nn.Module]
    options: type


_MODELS: dict[str, ModelEntry] = {}


def register_model(name: str, options: type) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Register `builder(options, **task_sizes) -> nn.Module` under `name`."""

    def decorate(builder: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _MODELS:
            raise ValueError(f"model {name!r} is registered twice")
        _MODELS[name] = ModelEntry(name, builder, options)
        return builder

    return decorate


def get_model_entry(name: str) -> ModelEntry:
    """The registry entry for `name`; a clear error lists the registered names otherwise."""
    _import_model_modules()
    if name not in _MODELS:
        raise VlkitError(f"unknown model {name!r}; registered models: {', '.join(sorted(_MODELS))}")
    return _MODELS[name]


def registered_models() -> list[str]:
    """Names of every registered model, sorted."""
    _import_model_modules()
    return sorted(_MODELS)


def build_model(name: str, options: Any, **sizes: int) -> nn.Module:
    """Build model `name` from its options dataclass instance and the task sizes (vocab, answers)."""
    return get_model_entry(name).builder(options, **sizes)


def _import_model_modules() -> None:
    """Import the task model packages so that their `@register_model` decorators run."""
    import vlkit.vqa.models  # noqa: F401
