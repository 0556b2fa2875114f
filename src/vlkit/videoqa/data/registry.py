"""The registry of video QA datasets: `data.dataset` -> its data-section dataclass and data-module class."""

from __future__ import annotations

from typing import Callable, TypeVar

from vlkit.core.registry import DatasetEntry, Registry

DATASETS: Registry[DatasetEntry] = Registry("video QA dataset")

DataModuleClass = TypeVar("DataModuleClass", bound=type)


def register_dataset(name: str, options: type, provides: tuple[str, ...]
                     ) -> Callable[[DataModuleClass], DataModuleClass]:
    """Register a data-module class, built as `cls(options, seed, vocabularies)` (a trained run's
    `VideoQAVocabularies` or None), whose batches hold the keys `provides`, under `name`."""

    def decorate(cls: DataModuleClass) -> DataModuleClass:
        DATASETS.add(DatasetEntry(name, cls, options, provides))
        return cls

    return decorate
