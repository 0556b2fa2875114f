"""Image captioning as a core task: its sections, model building, run files, report and Predictor.

Config: `data` (prepared or synthetic_shapes, see `vlkit.caption.data`), `model` (a registered
captioning model), and the fixed sections `encoder` (the CNN in front of every model:
`vlkit.caption.models.encoders.EncoderConfig`) and `decoding` (the beam search that validation,
evaluation and prediction use). A run keeps `word_map.json` and `images.json`. With `data.features` the
model reads a frozen encoder's stored grid features instead of the images (`vlkit.caption.data.features`):
checked here against the encoder's backbone, weights and the model's grid before anything trains.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vlkit.caption.data import module as prepared_module, synthetic_module  # noqa: F401  (registers both datasets)
from vlkit.caption.data.features import check_store_encoder, check_store_weights, feature_store_path
from vlkit.caption.data.registry import DATASETS
from vlkit.caption.models import MODELS
from vlkit.caption.models.encoders import EncoderConfig, encoder_weights_file
from vlkit.caption.module import MONITOR, CaptionModule
from vlkit.caption.predictor import CaptionPredictor
from vlkit.caption.run_files import RUN_FILES, CaptionVocabularies, read_caption_run_files, write_caption_run_files
from vlkit.core.config import Config
from vlkit.core.errors import InvalidValue, VlkitError
from vlkit.features.store import read_manifest
from vlkit.core.task import Task
from vlkit.core.validation import check_choice, check_non_negative, check_positive_int

VAL_METRICS = ("CIDEr", "Bleu_4", "Bleu_3", "Bleu_2", "Bleu_1", "ROUGE_L", "tutorial_bleu4")


@dataclass
class DecodingConfig:
    """The beam search of validation, evaluation and prediction (`vlkit.caption.decoding`).

    `max_length` bounds the words of a caption; `length_normalization` alpha > 0 ranks finished beams by
    score / length^alpha (0: by the summed log-probability, as the tutorial). `val_metric` picks best.ckpt
    and early stopping: a coco-caption metric of the decoded validation captions (logged as val/score).
    """

    beam_size: int = 3
    max_length: int = 50
    length_normalization: float = 0.0
    val_metric: str = "CIDEr"

    def __post_init__(self) -> None:
        check_positive_int(self, "beam_size", "max_length")
        check_non_negative(self, "length_normalization")
        check_choice(self, "val_metric", VAL_METRICS)


def model_grid_size(config: Config) -> int:
    """The side of the grid the configured model pools its encoder to (`model.grid_size`; show_tell, which has none,
    reads one global vector: 1)."""
    return int(getattr(config.model, "grid_size", 1))


class CaptionTask(Task):
    """Captioning: an encoder reads the image, a decoder writes the caption word by word."""

    name = "caption"
    title = "captioning"
    models = MODELS
    datasets = DATASETS
    sections = {"encoder": EncoderConfig, "decoding": DecodingConfig}
    default_dataset = "synthetic_shapes"
    default_model = "show_attend_tell"
    default_run_name = "show_attend_tell_synthetic"
    monitor = MONITOR
    monitor_mode = "max"
    primary_metric = "CIDEr"
    run_files = RUN_FILES
    predictor_class = CaptionPredictor
    evaluation_sections = ("data", "decoding")

    def validate_config(self, config: Config) -> None:
        alpha_c = getattr(config.model, "alpha_c", None)
        if alpha_c is not None and (isinstance(alpha_c, bool) or alpha_c < 0):
            raise InvalidValue("model.alpha_c", alpha_c, "a number >= 0")
        encoder = config.sections["encoder"]
        if getattr(config.data, "features", None):
            if encoder.backbone == "small_cnn":
                raise VlkitError("data.features needs a frozen ResNet encoder, but encoder.backbone=small_cnn trains "
                                 "with the model: set encoder.backbone to the features' ResNet, or leave "
                                 "data.features unset")
            if encoder.fine_tune:
                raise VlkitError("data.features holds the frozen encoder's output, but encoder.fine_tune=true trains "
                                 "the encoder: set encoder.fine_tune=false, or leave data.features unset to train on "
                                 "the images")

    def build_datamodule(self, config: Config, vocabularies: CaptionVocabularies | None = None):
        """The data module of `data.dataset`; with `data.features`, its store must come from the configured encoder's
        backbone pooled to the model's grid (checked here, before any run directory is made)."""
        datamodule = super().build_datamodule(config, vocabularies)
        store = datamodule.feature_store() if getattr(config.data, "features", None) else None
        if store is not None:
            check_store_encoder(store.manifest, store.directory, config.sections["encoder"].backbone,
                                model_grid_size(config))
        return datamodule

    def training_departures(self, config: Config) -> list[str]:
        """The encoder's weights file must exist before training starts; a ResNet encoder that starts from random
        weights departs from every reference (they start from ImageNet)."""
        encoder = config.sections["encoder"]
        encoder_weights_file(encoder)
        features = getattr(config.data, "features", None)
        if features and config.data.folder:
            path = feature_store_path(config.data.folder, features)
            check_store_weights(read_manifest(path), path, encoder)
        if encoder.backbone != "small_cnn" and encoder.weights == "none":
            return [f"encoder.weights=none: the {encoder.backbone} encoder starts random, not from ImageNet weights"]
        return []

    def build_module(self, config: Config, vocabularies: CaptionVocabularies, fresh: bool) -> CaptionModule:
        """The configured model in a CaptionModule; a fresh run's encoder starts from its pretrained weights."""
        word_map = vocabularies.word_map
        model = config.model_entry.builder(config.model, len(word_map), config.sections["encoder"], pretrained=fresh)
        return CaptionModule(config, model, len(word_map), word_map.start, word_map.end)

    def write_run_files(self, run_dir: Path, vocabularies: CaptionVocabularies) -> None:
        write_caption_run_files(run_dir, vocabularies)

    def read_run_files(self, run_dir: Path) -> CaptionVocabularies:
        return read_caption_run_files(run_dir)

    def format_report(self, report: dict) -> str:
        shown = [f"{name} {report[name]:.4f}" for name in ("CIDEr", "Bleu_4", "METEOR", "ROUGE_L", "tutorial_bleu4")
                 if name in report]
        if not shown:
            return f"{report['split']}: {report['num_questions']} captions written to {report['predictions']}"
        return f"{report['split']} over {report['num_questions']} images: " + ", ".join(shown)
