"""What each page of the demo does with one request: check the input, ask the run's Predictor, and turn its
prediction into what the page shows (answer bars, attention blended over the image, per-word and per-clip
attention). A request never raises: a bad input or a failure comes back as the page's message."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from vlkit.core.errors import VlkitError
from vlkit.demo.inputs import DemoLimits, check_count, check_image, check_question, check_video
from vlkit.demo.runs import DemoRun
from vlkit.vision.attention_figure import blend_attention
from vlkit.vision.images import enlarged

logger = logging.getLogger("vlkit.demo")

DISPLAY_SIDE = 256  # pixels: images and frames smaller than this are enlarged in the page


@dataclass
class DemoAnswer:
    """What a page shows for one request. `message` holds notes on an answered request (unknown words, a model
    without attention), or, with everything else empty, why the request could not be answered."""

    message: str = ""
    answers: dict[str, float] = field(default_factory=dict)  # answer -> probability, best first
    caption: str = ""
    image: Optional[np.ndarray] = None  # (H, W, 3) uint8: the attention over the image (VQA)
    gallery: list[tuple[np.ndarray, str]] = field(default_factory=list)  # per word (captioning) or clip (video QA)
    clip_attention: dict[str, float] = field(default_factory=dict)  # "clip i" -> weight (video QA)


MAX_TOP_K = 10
MAX_BEAM = 10


def answer_image_question(run: Optional[DemoRun], image: Any, question: Any, top_k: Any,
                          limits: DemoLimits) -> DemoAnswer:
    """VQA: the top-k answers and the attention (averaged over glimpses) blended over the image."""
    def work() -> DemoAnswer:
        path, text = check_image(image, limits), check_question(question, limits)
        prediction = run.predictor.answer(path, text, check_count(top_k, "answers shown", 1, MAX_TOP_K))
        heatmap = None
        if prediction.attention is not None:
            heatmap = blend_attention(prediction.image, prediction.attention.float().mean(0).numpy(), DISPLAY_SIDE)
        notes = _unknown_words_note(prediction.unknown_words)
        if heatmap is None:
            notes += " This model has no attention over the image."
        if prediction.dropped_words:
            notes += f" The model reads the first words only: the last {prediction.dropped_words} were left out."
        return DemoAnswer(message=notes.strip(), answers=dict(prediction.answers), image=heatmap)
    return _answered(work, run)


def caption_image(run: Optional[DemoRun], image: Any, beam_size: Any, limits: DemoLimits) -> DemoAnswer:
    """Captioning: the beam-search caption and, for models that attend, one attention map per word."""
    def work() -> DemoAnswer:
        prediction = run.predictor.caption(check_image(image, limits), check_count(beam_size, "beam size", 1, MAX_BEAM))
        maps = []
        if prediction.attention is not None:
            maps = [(blend_attention(prediction.image, weights.numpy(), DISPLAY_SIDE), word)
                    for word, weights in zip(prediction.words, prediction.attention)]
        message = "" if maps else "This model does not attend to image regions: there is no per-word attention."
        return DemoAnswer(message=message, caption=prediction.caption, gallery=maps)
    return _answered(work, run)


def answer_video_question(run: Optional[DemoRun], video: Any, question: Any, top_k: Any,
                          limits: DemoLimits) -> DemoAnswer:
    """Video QA: the top-k answers, the model's weight on each clip and each clip's middle frame."""
    def work() -> DemoAnswer:
        path, text = check_video(video, limits), check_question(question, limits)
        prediction = run.predictor.answer(path, text, check_count(top_k, "answers shown", 1, MAX_TOP_K))
        weights = prediction.clip_attention
        frames = []
        for index, clip in enumerate(prediction.frames):  # (F, S, S, 3) per clip
            label = f"clip {index + 1}" + (f": weight {weights[index]:.2f}" if weights is not None else "")
            frames.append((enlarged(clip[len(clip) // 2], DISPLAY_SIDE), label))
        attention = {f"clip {i + 1}": float(w) for i, w in enumerate(weights)} if weights is not None else {}
        message = _unknown_words_note(prediction.unknown_words)
        if weights is None:
            message += " This model has no attention over clips."
        return DemoAnswer(message=message.strip(), answers=dict(prediction.answers), gallery=frames,
                          clip_attention=attention)
    return _answered(work, run)


def _answered(work: Any, run: Optional[DemoRun]) -> DemoAnswer:
    """`work()`, with a VlkitError turned into its message and any other failure logged and reported briefly;
    `run` None (a run name the page does not have) is refused before any work."""
    if run is None:
        return DemoAnswer(message="Could not answer: pick one of the loaded runs")
    try:
        return work()
    except VlkitError as error:
        return DemoAnswer(message=f"Could not answer: {error}")
    except Exception as error:  # noqa: BLE001 - a request must never take the worker down
        logger.exception("demo request on run %s failed", run.label)
        return DemoAnswer(message=f"Could not answer: the server failed on this input ({type(error).__name__}); "
                                  "the details are in the server's log.")


def _unknown_words_note(unknown: list[str]) -> str:
    return (f"Words this model does not know, read as unknown: {', '.join(unknown)}." if unknown else "")

