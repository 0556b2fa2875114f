"""Visual question answering as a core task: its sections, model building, run files, report and Predictor.

Config: `data` (easy_vqa or vqa, see `vlkit.vqa.data`), `model` (a registered VQA model), and the
fixed section `image_encoder`: the small CNN put in front of a feature-reading model on a dataset
that yields images. A run keeps `vocab.json` and `answers.json`.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path

from lightning.pytorch.utilities import rank_zero_only
from torch import nn

from vlkit.core.config import Config
from vlkit.core.errors import InvalidValue, VlkitError
from vlkit.core.task import Task
from vlkit.core.validation import check_fraction, check_positive_int, check_positive_ints
from vlkit.text.glove import glove_departures, glove_file, initialise_embedding
from vlkit.vision.end_to_end import EndToEndFeatures, check_cnn_width
from vlkit.vqa.data import easyvqa_module, features_module  # noqa: F401  (registers both datasets)
from vlkit.vqa.data.registry import DATASETS
from vlkit.vqa.data.vocabularies import (
    RUN_FILES,
    VQAVocabularies,
    read_vocabularies,
    write_vocabularies,
)
from vlkit.vqa.models import MODELS
from vlkit.vqa.module import MONITOR, VQAModule
from vlkit.vqa.predictor import VQAPredictor

log = logging.getLogger("vlkit")


@dataclass
class ImageEncoderConfig:
    """The small CNN put in front of a feature-reading model (mcan, saaa, bow, ...) on an image dataset.

    Used only when the dataset yields images (easy_vqa) and the model reads features; it is trained
    end to end and its last stage width must equal model.feature_dim.
    """

    cnn_channels: list[int] = field(default_factory=lambda: [32, 64, 128])

    def __post_init__(self) -> None:
        check_positive_ints(self, "cnn_channels")


class VQATask(Task):
    """VQA: questions about images (or image features) answered by classifying over an answer list."""

    name = "vqa"
    title = "VQA"
    models = MODELS
    datasets = DATASETS
    sections = {"image_encoder": ImageEncoderConfig}
    default_dataset = "easy_vqa"
    default_model = "cnn_lstm_att"
    default_run_name = "cnn_lstm_att_easyvqa"
    monitor = MONITOR
    monitor_mode = "max"
    primary_metric = "overall"
    run_files = RUN_FILES
    predictor_class = VQAPredictor

    def validate_config(self, config: Config) -> None:
        """Model options in range; a model must read what the dataset yields, or features an image dataset
        can make end to end (with a CNN as wide as the features the model reads, on images it can halve)."""
        try:
            check_model_options(config.model)
        except InvalidValue as error:
            raise error.in_section("model") from None
        provided = set(config.data_entry.provides)
        needed = set(config.model_entry.inputs)
        if needs_end_to_end_features(config):
            check_cnn_width(config.model.feature_dim, list(config.sections["image_encoder"].cnn_channels))
            needed = needed - {"features", "feature_mask"} | {"images", "image_index"}
        missing = sorted(needed - provided)
        if missing:
            raise VlkitError(f"model {config.model_entry.name!r} needs {missing}, which data.dataset "
                             f"{config.data_entry.name!r} does not provide")
        cnn_channels = getattr(config.model, "cnn_channels", None) or config.sections["image_encoder"].cnn_channels
        if "images" in provided and config.data.image_size < 2 ** len(cnn_channels):
            raise InvalidValue("data.image_size", config.data.image_size,
                               f"at least {2 ** len(cnn_channels)}: the CNN halves it {len(cnn_channels)} times")

    def training_departures(self, config: Config) -> list[str]:
        """A recipe whose reference starts from GloVe says `model.glove: required`: training needs the file, or
        `model.glove=none`, which is recorded as a departure."""
        return glove_departures(config.model, config.model_entry.name)

    def upgrade_saved_config(self, saved: dict) -> dict:
        """Runs of vlkit 0.1 saved one data section holding the keys of every dataset; keep the dataset's own."""
        data = dict(saved.get("data") or {})
        dataset = data.get("dataset", self.default_dataset)
        if dataset in self.datasets:
            own = {f.name for f in dataclasses.fields(self.datasets.get(dataset).options)}
            others = {f.name for entry in self.datasets for f in dataclasses.fields(entry.options)} - own
            saved = {**saved, "data": {key: value for key, value in data.items() if key not in others}}
        return saved

    def build_module(self, config: Config, vocabularies: VQAVocabularies, fresh: bool) -> VQAModule:
        """The configured model (behind the end-to-end CNN where needed) in a VQAModule; a fresh run
        with `model.glove` starts its word embeddings from GloVe."""
        sizes = {"vocab_size": len(vocabularies.questions), "num_answers": len(vocabularies.answers)}
        model: nn.Module = config.model_entry.builder(config.model, **sizes)
        glove = glove_file(config.model)
        if glove and fresh:
            missing = initialise_embedding(model, vocabularies.questions, glove, config.model.glove_rows)
            if rank_zero_only.rank == 0:
                log.info("word embeddings from %s; %d of %d words missing there", glove, len(missing),
                         len(vocabularies.questions))
        if needs_end_to_end_features(config):
            model = EndToEndFeatures(model, config.model.feature_dim,
                                     list(config.sections["image_encoder"].cnn_channels))
        return VQAModule(config, model, **sizes)

    def write_run_files(self, run_dir: Path, vocabularies: VQAVocabularies) -> None:
        write_vocabularies(run_dir, vocabularies)

    def read_run_files(self, run_dir: Path) -> VQAVocabularies:
        return read_vocabularies(run_dir)

    def format_report(self, report: dict) -> str:
        if "overall" not in report:
            return (f"{report['split']}: {report['num_questions']} answers written to {report['predictions']} "
                    "(no ground truth)")
        per_type = ", ".join(f"{name} {value:.2f}" for name, value in report["perAnswerType"].items())
        return (f"{report['split']} accuracy {report['overall']:.2f}% over {report['num_questions']} questions "
                f"({per_type})")


def check_model_options(options: object) -> None:
    """Every VQA model option that is a whole number is a size or a count (>= 1); dropout is in [0, 1)."""
    for item in dataclasses.fields(options):
        value = getattr(options, item.name)
        if item.name == "dropout":
            check_fraction(options, "dropout", low_open=False)
        elif isinstance(value, int) and not isinstance(value, bool):
            check_positive_int(options, item.name)
        elif isinstance(value, list):
            check_positive_ints(options, item.name)
    if hasattr(options, "heads") and options.hidden_size % options.heads:
        raise InvalidValue("hidden_size", options.hidden_size, f"a multiple of heads={options.heads}")


def needs_end_to_end_features(config: Config) -> bool:
    """Whether the model reads features while the dataset yields images: a small CNN makes them."""
    return "features" in config.model_entry.inputs and "images" in config.data_entry.provides
