"""Video question answering as a core task: its sections, model building, run files, report and Predictor.

Config: `data` (clip_features, video_frames or synthetic_videos, see `vlkit.videoqa.data`), `model` (a
registered video QA model), and the fixed section `clip_encoder`: the CNNs put in front of the model on a
dataset that yields frames (`vlkit.videoqa.clip_encoder`). msvqa's QA stage names the reconstruction-stage
run it continues from in `model.init_from`. A run keeps `vocab.json`, `answers.json` and `video_input.json`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

import torch
from lightning.pytorch.utilities import rank_zero_only
from torch import nn

from vlkit.core.config import Config
from vlkit.core.errors import InvalidValue, VlkitError
from vlkit.core.task import Task
from vlkit.text.glove import glove_departures, glove_file, initialise_embedding
from vlkit.videoqa.clip_encoder import ClipEncoderConfig, EndToEndClips, check_encoder_widths
from vlkit.videoqa.data import features_module, frames, synthetic_module  # noqa: F401  (registers the datasets)
from vlkit.videoqa.data.registry import DATASETS
from vlkit.videoqa.models import MODELS
from vlkit.videoqa.module import MONITOR, RECONSTRUCTION_MONITOR, VideoQAModule, reconstruction_stage
from vlkit.videoqa.predictor import VideoQAPredictor
from vlkit.videoqa.run_files import (
    RUN_FILES,
    VideoQAVocabularies,
    read_videoqa_run_files,
    write_videoqa_run_files,
)

log = logging.getLogger("vlkit")

INIT_FROM_REQUIRED = "required"  # recipe value of model.init_from: the user must name the run


def reads_frames(config: Config) -> bool:
    """Whether the dataset yields frames, which the task's CNNs turn into the clip features the model reads
    (a model that reads no video, the question-only baseline, gets no CNNs)."""
    return "frames" in config.data_entry.provides and "appearance" in config.model_entry.inputs


def init_from_checkpoint(config: Config) -> Optional[Path]:
    """The checkpoint a run starts from (`model.init_from`: a run directory, its best.ckpt), None without one."""
    init_from = getattr(config.model, "init_from", None)
    if not init_from:
        return None
    if init_from == INIT_FROM_REQUIRED:
        raise VlkitError("this recipe continues from msvqa's reconstruction stage: pass model.init_from=RUN, the "
                         "directory of that run (configs/videoqa/msvqa_reconstruction_msvd.yaml trains it)")
    path = Path(init_from)
    checkpoint = path / "best.ckpt" if path.is_dir() else path
    if not checkpoint.is_file():
        raise VlkitError(f"model.init_from={init_from}: no checkpoint there (give the reconstruction-stage run "
                         "directory, whose best.ckpt the QA stage starts from)")
    return checkpoint


class VideoQATask(Task):
    """Video QA: questions about short videos answered by classifying over the training answers."""

    name = "videoqa"
    title = "video QA"
    models = MODELS
    datasets = DATASETS
    sections = {"clip_encoder": ClipEncoderConfig}
    default_dataset = "synthetic_videos"
    default_model = "dualvgr"
    default_run_name = "dualvgr_synthetic"
    monitor = MONITOR
    monitor_mode = "max"
    primary_metric = "accuracy"
    run_files = RUN_FILES
    predictor_class = VideoQAPredictor
    embedded_recipe = {  # `vlkit videoqa train` with no --config: a small dualvgr on the synthetic set, on the CPU
        "run": {"name": "dualvgr_synthetic"},
        "data": {"dataset": "synthetic_videos", "batch_size": 32, "eval_batch_size": 128},
        "model": {"name": "dualvgr", "appearance_dim": 64, "motion_dim": 64, "module_dim": 128, "word_dim": 64,
                  "mfb_dim": 64},
        "optim": {"lr": 1e-3},
        "trainer": {"max_epochs": 40, "patience": 8, "gradient_clip_val": 12.0},
    }

    def monitor_of(self, config: Config) -> tuple[str, str]:
        """msvqa's reconstruction stage keeps its lowest validation reconstruction error; everything else val/acc."""
        return (RECONSTRUCTION_MONITOR, "min") if reconstruction_stage(config) else (MONITOR, "max")

    def validate_config(self, config: Config) -> None:
        """On frames, the CNNs' last widths must equal the feature widths the model reads, and msvqa rebuilds pixel
        summaries (the CNNs' own features would be a moving target); on features, it rebuilds those."""
        on_frames = reads_frames(config)
        if on_frames:
            check_encoder_widths(config.sections["clip_encoder"], config.model.appearance_dim, config.model.motion_dim)
        reconstruct = getattr(config.model, "reconstruct", None)
        if reconstruct is not None and (reconstruct == "pixels") != on_frames:
            expected = "pixels" if on_frames else "features"
            raise InvalidValue("model.reconstruct", reconstruct,
                               f"{expected!r} with data.dataset {config.data_entry.name!r}, which yields "
                               f"{'frames' if on_frames else 'clip features'}")

    def training_departures(self, config: Config) -> list[str]:
        """GloVe as the recipe asks (`model.glove`); the QA stage of msvqa without its reconstruction stage departs."""
        departures = glove_departures(config.model, config.model_entry.name)
        init_from_checkpoint(config)
        if getattr(config.model, "stage", None) == "qa" and not getattr(config.model, "init_from", None):
            departures.append("model.init_from is not set: msvqa's QA stage starts without its reconstruction stage")
        return departures

    def build_datamodule(self, config: Config, vocabularies: Optional[VideoQAVocabularies] = None):
        """The data module of `data.dataset`; on clip features, their widths must be what the model reads (checked
        here, before any run directory is made)."""
        datamodule = super().build_datamodule(config, vocabularies)
        dims = getattr(datamodule, "feature_dims", None)
        if dims is not None and "appearance" in config.model_entry.inputs:
            for name, dim in dims.items():
                if getattr(config.model, f"{name}_dim") != dim:
                    raise VlkitError(f"the {name} features in data.{name} have {dim} values per row but the model "
                                     f"reads model.{name}_dim={getattr(config.model, f'{name}_dim')}: set "
                                     f"model.{name}_dim={dim}")
        return datamodule

    def build_module(self, config: Config, vocabularies: VideoQAVocabularies, fresh: bool) -> VideoQAModule:
        """The configured model (behind the clip CNNs on frames) in a VideoQAModule; a fresh run starts its word
        embedding from GloVe (`model.glove`) and its weights from `model.init_from`."""
        sizes = {"vocab_size": len(vocabularies.questions), "num_answers": len(vocabularies.answers)}
        model: nn.Module = config.model_entry.builder(config.model, **sizes)
        glove = glove_file(config.model)
        if glove and fresh:
            missing = initialise_embedding(model, vocabularies.questions, glove)
            if rank_zero_only.rank == 0:
                log.info("word embeddings from %s; %d of %d words missing there", glove, len(missing),
                         len(vocabularies.questions))
        if reads_frames(config):
            model = EndToEndClips(model, config.sections["clip_encoder"])
        module = VideoQAModule(config, model, **sizes)
        checkpoint = init_from_checkpoint(config) if fresh else None
        if checkpoint is not None:
            state = torch.load(checkpoint, map_location="cpu", weights_only=True)["state_dict"]
            try:
                module.load_state_dict(state)
            except RuntimeError as error:
                raise VlkitError(f"model.init_from={checkpoint} does not fit this model (another model, sizes or "
                                 f"vocabulary): {str(error).splitlines()[0]}") from error
            if rank_zero_only.rank == 0:
                log.info("weights from %s", checkpoint)
        return module

    def write_run_files(self, run_dir: Path, vocabularies: VideoQAVocabularies) -> None:
        write_videoqa_run_files(run_dir, vocabularies)

    def read_run_files(self, run_dir: Path) -> VideoQAVocabularies:
        return read_videoqa_run_files(run_dir)

    def format_report(self, report: dict) -> str:
        if "accuracy" not in report:
            return f"{report['split']}: {report['num_questions']} answers written to {report['predictions']}"
        per_type = ", ".join(f"{name} {value:.2f}" for name, value in report["per_type"].items())
        return (f"{report['split']} accuracy {report['accuracy']:.2f}% over {report['num_questions']} questions "
                f"({per_type})")
