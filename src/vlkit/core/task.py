"""What a task plugs into the core: its config sections, data, model, run files, metric, report and Predictor.

The core trains (`vlkit.core.fit`), evaluates (`vlkit.core.evaluate`), resumes, lists runs and
loads trained runs (`vlkit.core.predictor`) for every task through this interface. A task is one
package (e.g. `vlkit.vqa`) holding a `Task` subclass, its registries, data modules, a
`TaskModule` subclass and a `Predictor` subclass; docs/ARCHITECTURE.md walks through adding one.

Vocabularies: whatever a task's model and data need that is built from the training data and must
travel with the run (VQA: question vocabulary and answer list; captioning: a word map). A fresh
data module builds them in `setup`; a trained run's are read back with `read_run_files` and given
to the data module, so that a run evaluates and predicts on another machine without its dataset.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Optional, Protocol

import torch
from torch.utils.data import DataLoader

from vlkit.core.config import Config
from vlkit.core.registry import DatasetEntry, ModelEntry, Registry

if TYPE_CHECKING:
    from vlkit.core.module import TaskModule
    from vlkit.core.predictor import Predictor


class TaskDataModule(Protocol):
    """What the core needs of a task's Lightning data module (besides train/val dataloaders).

    Batches are dicts holding at least `index` (B,) int64, each item's position in its split, and
    `counted` (B,) bool, False for the padding items of an evaluation shard (`vlkit.core.sampling`).
    Predictions are integer tensors (N, ...) in split order, one row per item, with values >= 0.
    """

    vocabularies: Any  # available after setup; what `Task.write_run_files` saves
    check_report: Optional[dict]  # a data check made in setup, saved as data_check.json; None: no check
    test_split_name: str  # the split scored once training is over

    def setup(self, stage: Optional[str] = None) -> None: ...

    def split_size(self, name: str) -> int: ...

    def loader(self, name: str, training: bool = False) -> DataLoader: ...

    def has_answers(self, name: str) -> bool: ...

    def score(self, name: str, predictions: torch.Tensor) -> dict: ...

    def prediction_rows(self, name: str, predictions: torch.Tensor) -> list[dict]: ...


class Task(ABC):
    """A task: class attributes declare it, methods build its parts from a resolved `Config`."""

    name: ClassVar[str]  # CLI group, run directory folder (`runs/<name>/`) and `task:` in configs
    title: ClassVar[str]  # how messages name the task ("VQA")
    models: ClassVar[Registry[ModelEntry]]
    datasets: ClassVar[Registry[DatasetEntry]]
    sections: ClassVar[dict[str, type]] = {}  # fixed config sections of the task: name -> dataclass
    default_dataset: ClassVar[str]
    default_model: ClassVar[str]
    default_run_name: ClassVar[str]
    monitor: ClassVar[str]  # logged validation metric that picks best.ckpt and stops early ("val/acc")
    monitor_mode: ClassVar[str] = "max"
    primary_metric: ClassVar[str]  # key of the evaluation report that `runs list` shows ("overall")
    run_files: ClassVar[tuple[str, ...]]  # files `write_run_files` writes into a run directory
    predictor_class: ClassVar[type["Predictor"]]
    evaluation_sections: ClassVar[tuple[str, ...]] = ("data",)  # sections `evaluate` may override (key=value)
    embedded_recipe: ClassVar[dict] = {}  # config sections `train` uses when no --config is given

    def monitor_of(self, config: Config) -> tuple[str, str]:
        """The validation metric (and "max" or "min") that picks best.ckpt and stops early for this config; a task
        whose recipes train other objectives (video QA's reconstruction stage) names theirs. Default: `monitor`."""
        return self.monitor, self.monitor_mode

    def validate_config(self, config: Config) -> None:
        """Checks across sections, made before any work starts (a model that reads what the data lacks)."""

    def training_departures(self, config: Config) -> list[str]:
        """Before training starts: refuse what a recipe needs and was not given (a raised VlkitError), and
        return how this run departs from its reference on purpose; `fit` records them in run.json."""
        return []

    def upgrade_saved_config(self, saved: dict) -> dict:
        """A run's saved `config.yaml` (plain data) brought to the current schema; runs of older versions
        may have saved keys that have moved since. The default changes nothing."""
        return saved

    def build_datamodule(self, config: Config, vocabularies: Optional[Any] = None) -> TaskDataModule:
        """The data module of `data.dataset`; `vocabularies` are a trained run's (None: built in setup)."""
        return config.data_entry.builder(config.data, config.trainer.seed, vocabularies)

    @abstractmethod
    def build_module(self, config: Config, vocabularies: Any, fresh: bool) -> "TaskModule":
        """The task's LightningModule around the configured model, sized by `vocabularies`.

        `fresh` is True for a new training run (initialise from pretrained files the config names,
        e.g. GloVe); False when the weights will come from a checkpoint.
        """

    @abstractmethod
    def write_run_files(self, run_dir: Path, vocabularies: Any) -> None:
        """Write the files that make a run self-contained (the names in `run_files`)."""

    @abstractmethod
    def read_run_files(self, run_dir: Path) -> Any:
        """The vocabularies `write_run_files` wrote."""

    @abstractmethod
    def format_report(self, report: dict) -> str:
        """One or a few lines for the terminal from an evaluation report (`vlkit.core.evaluate`)."""
