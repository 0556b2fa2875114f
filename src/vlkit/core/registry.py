"""Registries: names in a config (`model.name`, `data.dataset`) -> what builds the thing and its options.

The core defines the registry and the entry kinds; it imports no task. Each task owns its registries
(`vlkit.vqa.models.registry.MODELS`, `vlkit.vqa.data.registry.DATASETS`), so tasks never share a
namespace, and the package that holds the entries imports every file that registers one. A new
model is one file that decorates its builder::

    @dataclass
    class MyModelOptions:
        hidden_dim: int = 512

    @register_model("my_model", MyModelOptions, inputs=("features", "feature_mask", "tokens", "lengths"))
    def build_my_model(options: MyModelOptions, vocab_size: int, num_answers: int) -> nn.Module: ...

Builders take the sizes their task provides (VQA: question vocabulary and answer list sizes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Generic, Iterator, Optional, TypeVar

from vlkit.core.errors import VlkitError


@dataclass(frozen=True)
class ModelEntry:
    """A registered model: builder(options, **task sizes) -> nn.Module, its options dataclass, what it reads.

    `inputs` are the batch keys the model's forward reads; `loss` names the training loss in the
    task's terms (None: the task's default for the data).
    """

    name: str
    builder: Callable[..., Any]
    options: type
    inputs: tuple[str, ...]
    loss: Optional[str] = None


@dataclass(frozen=True)
class DatasetEntry:
    """A registered dataset: its data-section dataclass and the builder of its Lightning data module.

    builder(options, seed, vocabularies) -> data module, where `vocabularies` are a trained run's
    (None: built from the training split). `provides` are the keys of the batches it yields.
    """

    name: str
    builder: Callable[..., Any]
    options: type
    provides: tuple[str, ...]


Entry = TypeVar("Entry", ModelEntry, DatasetEntry)


class Registry(Generic[Entry]):
    """Names -> entries of one kind for one task; a name is registered once."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Entry] = {}

    def add(self, entry: Entry) -> Entry:
        """Register `entry` under its name; registering a name twice is a programming error."""
        if entry.name in self._entries:
            raise ValueError(f"{self.kind} {entry.name!r} is registered twice")
        self._entries[entry.name] = entry
        return entry

    def get(self, name: str) -> Entry:
        """The entry of `name`; an unknown name is a VlkitError that lists the registered ones."""
        if name not in self._entries:
            raise VlkitError(f"unknown {self.kind} {name!r}; registered: {', '.join(self.names())}")
        return self._entries[name]

    def names(self) -> list[str]:
        """Every registered name, sorted."""
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries.values())
