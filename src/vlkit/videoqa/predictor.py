"""Answer questions about videos with a trained video QA run, loaded once (`vlkit videoqa predict`, the web demo)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from vlkit.core.errors import VlkitError
from vlkit.core.predictor import Predictor, TrainedRun
from vlkit.features.video_clips import decode_clips


@dataclass
class VideoPrediction:
    """Top-k answers with probabilities, the question words the model does not know, the attention over clips."""

    question: str
    frames: np.ndarray  # (C, F, S, S, 3) uint8, as the model saw them
    answers: list[tuple[str, float]]
    unknown_words: list[str]
    clip_attention: Optional[list[float]]  # (C,) the model's pooling weights over clips; None if it has none


class VideoQAPredictor(Predictor):
    """A video QA run whose model reads decoded frames (end to end); `answer` takes a video file and a question."""

    def __init__(self, trained: TrainedRun):
        super().__init__(trained)
        self.video_input = trained.vocabularies.video_input
        if self.video_input.get("kind") != "frames":
            raise VlkitError(f"the model of {trained.run_dir} ({trained.config.model_entry.name}) reads precomputed "
                             "clip features (ResNet-101 / 3D ResNeXt), not frames: answer its questions with vlkit "
                             "videoqa evaluate RUN --split ...")
        self.vocab = trained.vocabularies.questions
        self.answers = trained.vocabularies.answers
        self.max_question_len: Optional[int] = trained.config.data.max_question_len

    @torch.no_grad()
    def answer(self, video: Path, question: str, top_k: int = 5) -> VideoPrediction:
        """Answer `question` about the video file; unknown words are read as <unk> and reported."""
        if top_k < 1:
            raise VlkitError(f"--top-k must be at least 1, got {top_k}")
        words = self.vocab.tokenize(question)
        if not words:
            raise VlkitError("the question is empty" if not question.strip() else f"question {question!r} has no words")
        unknown = self.vocab.unknown_words(question)
        if len(unknown) == len(words):
            raise VlkitError(f"question {question!r} has no known words: {unknown} are all outside the "
                             f"vocabulary of {self.trained.run_dir} ({len(self.vocab)} words)")
        clips, frames_per_clip = self.video_input["clip_shape"]
        frames = decode_clips(Path(video), clips, frames_per_clip, self.video_input["frame_size"],
                              self.video_input.get("frame_stride", 1))
        tokens, lengths = self.vocab.encode_batch([question], self.max_question_len)
        batch = {"frames": torch.from_numpy(frames).unsqueeze(0), "video_index": torch.zeros(1, dtype=torch.long),
                 "questions": tokens, "question_lengths": lengths}
        output = self.trained.module({key: value.to(self.device) for key, value in batch.items()})
        probabilities = torch.softmax(output["logits"][0].float(), dim=0).cpu()
        top = torch.topk(probabilities, k=min(top_k, len(self.answers)))
        answers = [(self.answers.decode(int(i)), float(p)) for p, i in zip(top.values, top.indices)]
        attention = output.get("clip_attention")
        return VideoPrediction(question, frames, answers, unknown,
                               attention[0].float().cpu().tolist() if attention is not None else None)
