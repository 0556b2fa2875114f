"""Answer questions about images with a trained VQA run, loaded once (`vlkit vqa predict`, the web demo)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from vlkit.core.errors import VlkitError
from vlkit.core.predictor import Predictor, TrainedRun
from vlkit.vision.attention_figure import check_figure_path, save_attention_figure
from vlkit.vision.images import load_rgb


@dataclass
class Prediction:
    """Top-k answers with probabilities, the question words the model does not know, the attention."""

    question: str
    image: np.ndarray  # (H, W, 3) uint8, as the model saw it
    answers: list[tuple[str, float]]
    unknown_words: list[str]
    attention: Optional[torch.Tensor]  # (G, h, w); None for models without image attention (bow, ...)
    dropped_words: int = 0  # words past the model's maximum question length (data.max_question_len), not read


class VQAPredictor(Predictor):
    """A VQA run whose model reads images (end to end); `answer` takes an image and a question."""

    def __init__(self, trained: TrainedRun):
        super().__init__(trained)
        config = trained.config
        if "images" not in config.data_entry.provides:
            raise VlkitError(f"the model of {trained.run_dir} ({config.model_entry.name}) reads precomputed "
                             "features, not images: answer its questions with vlkit vqa evaluate RUN --split ...")
        self.vocab = trained.vocabularies.questions
        self.answers = trained.vocabularies.answers
        self.image_size: int = config.data.image_size
        self.max_question_len: Optional[int] = config.data.max_question_len  # None: every word is read

    @torch.no_grad()
    def answer(self, image: Path, question: str, top_k: int = 5) -> Prediction:
        """Answer `question` about the image file; unknown words are read as <unk> and reported."""
        if not question.strip():
            raise VlkitError("the question is empty")
        if top_k < 1:
            raise VlkitError(f"--top-k must be at least 1, got {top_k}")
        words = self.vocab.tokenize(question)
        if not words:
            raise VlkitError(f"question {question!r} has no words")
        unknown = self.vocab.unknown_words(question)
        if len(unknown) == len(words):
            raise VlkitError(f"question {question!r} has no known words: {unknown} are all outside the "
                             f"vocabulary of {self.trained.run_dir} ({len(self.vocab)} words)")
        pixels = load_rgb(image, self.image_size)  # (H, W, 3) uint8
        tokens, lengths = self.vocab.encode_batch([question], self.max_question_len)
        batch = {
            "images": torch.from_numpy(pixels).permute(2, 0, 1).unsqueeze(0),
            "image_index": torch.zeros(1, dtype=torch.long),
            "tokens": tokens,
            "lengths": lengths,
        }
        output = self.trained.module({key: value.to(self.device) for key, value in batch.items()})
        probabilities = torch.softmax(output["logits"][0].float(), dim=0).cpu()
        top = torch.topk(probabilities, k=min(top_k, len(self.answers)))
        answers = [(self.answers[int(i)], float(p)) for p, i in zip(top.values, top.indices)]
        attention = output["attention"][0].cpu() if "attention" in output else None
        dropped = 0 if self.max_question_len is None else max(0, len(words) - self.max_question_len)
        return Prediction(question, pixels, answers, unknown, attention, dropped)

    def save_attention(self, prediction: Prediction, path: Path) -> None:
        """Draw the prediction's attention over its image as a PNG at `path`."""
        if prediction.attention is None:
            raise VlkitError(f"model {self.trained.config.model_entry.name!r} has no attention over the image to "
                             "draw; leave out --attention")
        check_figure_path(path, inputs=[])
        save_attention_figure(prediction.image, prediction.attention.numpy(), prediction.question,
                              prediction.answers, path)
