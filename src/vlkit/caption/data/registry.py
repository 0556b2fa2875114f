"""The registry of captioning datasets: `data.dataset` -> its data-section dataclass and data-module class."""

from __future__ import annotations

from typing import Callable, TypeVar

from vlkit.core.registry import DatasetEntry, Registry

DATASETS: Registry[DatasetEntry] = Registry("captioning dataset")

PROVIDES = ("images", "captions", "lengths", "index", "counted")

DataModuleClass = TypeVar("DataModuleClass", bound=type)


def register_dataset(name: str, options: type) -> Callable[[DataModuleClass], DataModuleClass]:
    """Register a data-module class, built as `cls(options, seed, vocabularies)` (a trained run's `CaptionVocabularies` or None), under `name`."""

    def decorate(cls: DataModuleClass) -> DataModuleClass:
        DATASETS.add(DatasetEntry(name, cls, options, PROVIDES))
        return cls

    return decorate
