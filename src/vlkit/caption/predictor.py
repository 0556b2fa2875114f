"""Caption images with a trained captioning run, loaded once (`vlkit caption predict`, the web demo)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from vlkit.core.errors import VlkitError
from vlkit.core.predictor import Predictor, TrainedRun
from vlkit.vision.attention_figure import check_figure_path, save_caption_attention_figure
from vlkit.vision.images import load_rgb


@dataclass
class CaptionPrediction:
    """A beam-search caption, its summed log-probability and the attention behind each of its words."""

    words: list[str]
    score: float
    image: np.ndarray  # (S, S, 3) uint8, as the model saw it
    attention: Optional[torch.Tensor]  # (L, G, G): one map per word; None for a model without attention

    @property
    def caption(self) -> str:
        return " ".join(self.words)


class CaptionPredictor(Predictor):
    """A captioning run; `caption` takes an image file."""

    def __init__(self, trained: TrainedRun):
        super().__init__(trained)
        self.word_map = trained.vocabularies.word_map
        self.image_size = trained.vocabularies.image_size

    @torch.no_grad()
    def caption(self, image: Path, beam_size: Optional[int] = None) -> CaptionPrediction:
        """Caption the image file (resized to the run's image size) with a beam of `beam_size` (default: the run's)."""
        if beam_size is not None and beam_size < 1:
            raise VlkitError(f"--beam must be at least 1, got {beam_size}")
        pixels = load_rgb(image, self.image_size)  # (S, S, 3) uint8
        images = torch.from_numpy(pixels).permute(2, 0, 1).unsqueeze(0).to(self.device)
        decoded = self.trained.module.decode(images, beam_size)
        length = int(decoded.lengths[0])
        words = self.word_map.words(decoded.tokens[0, :length].tolist())
        attention = None
        if decoded.attention is not None:
            steps = decoded.attention[0, :length].cpu()  # (L, P): the step of each word
            grid = int(round(steps.shape[1] ** 0.5))
            attention = steps.reshape(length, grid, grid)
        return CaptionPrediction(words, float(decoded.scores[0]), pixels, attention)

    def save_attention(self, prediction: CaptionPrediction, path: Path) -> None:
        """Draw one attention map per word over the image as a figure at `path`."""
        if prediction.attention is None:
            raise VlkitError(f"model {self.trained.config.model_entry.name!r} does not attend to image regions "
                             "(show_tell): leave out --attention")
        check_figure_path(path, inputs=[])
        save_caption_attention_figure(prediction.image, prediction.words, prediction.attention.numpy(), path)
