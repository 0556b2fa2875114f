"""`vlkit vqa predict`: answer one question about one image with a trained run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch

from vlkit.errors import VlkitError
from vlkit.imageio import load_rgb
from vlkit.vqa.inference import load_trained
from vlkit.vqa.visualize import save_attention_figure


@dataclass
class Prediction:
    """Top-k answers with probabilities, the question words the model does not know, the attention."""

    answers: list[tuple[str, float]]
    unknown_words: list[str]
    attention: Optional[torch.Tensor]  # (G, h, w); None for models without image attention (bow, ...)


def predict(run_dir: Path, image_path: Path, question: str, top_k: int = 5,
            attention_out: Optional[Path] = None) -> Prediction:
    """Answer `question` about the image; unknown words are read as <unk> and reported."""
    if not question.strip():
        raise VlkitError("the question is empty")
    if top_k < 1:
        raise VlkitError(f"--top-k must be at least 1, got {top_k}")
    trained = load_trained(run_dir)
    if "images" not in getattr(trained.module.model, "inputs", ()):
        raise VlkitError(f"the model of {run_dir} ({trained.config.model.name}) reads precomputed features, not "
                         "images: answer its questions with vlkit vqa evaluate RUN --split ...")
    max_len = trained.config.data.max_question_len
    if not trained.vocab.encode(question, max_len):
        raise VlkitError(f"question {question!r} has no words")
    image = load_rgb(image_path, trained.config.data.image_size)  # (H, W, 3) uint8
    tokens, lengths = trained.vocab.encode_batch([question], max_len)
    batch = {
        "images": torch.from_numpy(image).permute(2, 0, 1).unsqueeze(0),
        "image_index": torch.zeros(1, dtype=torch.long),
        "tokens": tokens,
        "lengths": lengths,
    }
    with torch.no_grad():
        output = trained.module(batch)
    probabilities = torch.softmax(output["logits"][0].float(), dim=0)
    top = torch.topk(probabilities, k=min(top_k, len(trained.answers)))
    answers = [(trained.answers[int(i)], float(p)) for p, i in zip(top.values, top.indices)]
    attention = output["attention"][0] if "attention" in output else None
    if attention_out is not None:
        if attention is None:
            raise VlkitError(f"model {trained.config.model.name!r} has no attention over the image to draw; "
                             "leave out --attention")
        save_attention_figure(image, attention.numpy(), question, answers, attention_out)
    return Prediction(answers, trained.vocab.unknown_words(question), attention)
