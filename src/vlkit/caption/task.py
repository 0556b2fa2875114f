"""Image captioning as a core task: its sections, model building, run files, report and Predictor.

Config: `data` (prepared or synthetic_shapes, see `vlkit.caption.data`), `model` (a registered
captioning model), and the fixed sections `encoder` (the CNN in front of every model:
`vlkit.caption.models.encoders.EncoderConfig`) and `decoding` (the beam search that validation,
evaluation and prediction use). A run keeps `word_map.json` and `images.json`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vlkit.caption.data import module as prepared_module, synthetic_module  # noqa: F401  (registers both datasets)
from vlkit.caption.data.registry import DATASETS
from vlkit.caption.models import MODELS
from vlkit.caption.models.encoders import EncoderConfig, encoder_weights_file
from vlkit.caption.module import MONITOR, CaptionModule
from vlkit.caption.predictor import CaptionPredictor
from vlkit.caption.run_files import RUN_FILES, CaptionVocabularies, read_caption_run_files, write_caption_run_files
from vlkit.core.config import Config
from vlkit.core.errors import InvalidValue
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

    def training_departures(self, config: Config) -> list[str]:
        """The encoder's weights file must exist before training starts; a ResNet encoder that starts from random
        weights departs from every reference (they start from ImageNet)."""
        encoder = config.sections["encoder"]
        encoder_weights_file(encoder)
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
