"""The registry of VQA datasets: `data.dataset` -> its data-section dataclass and data-module class.

Each data module registers itself when imported; `vlkit.vqa.task` imports both before any lookup.
"""

from __future__ import annotations

from typing import Callable, TypeVar

from vlkit.core.registry import DatasetEntry, Registry

DATASETS: Registry[DatasetEntry] = Registry("VQA dataset")

DataModuleClass = TypeVar("DataModuleClass", bound=type)


def register_dataset(name: str, options: type, provides: tuple[str, ...]) -> Callable[[DataModuleClass],
                                                                                      DataModuleClass]:
    """Register a data-module class, built as `cls(options, seed, vocabularies)`, under `name`."""

    def decorate(cls: DataModuleClass) -> DataModuleClass:
        DATASETS.add(DatasetEntry(name, cls, options, provides))
        return cls

    return decorate
