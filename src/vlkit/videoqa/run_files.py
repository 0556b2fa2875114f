"""What a video QA run keeps from its training data: question vocabulary, answer classes, how it reads videos.

`video_input.json` says what the model reads, so that a run predicts on a new video without its dataset:
{"kind": "frames", "clip_shape": [C, F], "frame_size": S} (decoded frames, encoded by the run's own CNNs) or
{"kind": "features", "clip_shape": [C, F], "appearance": store manifest, "motion": store manifest}.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from vlkit.core.errors import VlkitError
from vlkit.core.files import write_json_atomic
from vlkit.text.vocabulary import Vocabulary
from vlkit.videoqa.data.answer_vocabulary import AnswerVocabulary

RUN_FILES = ("vocab.json", "answers.json", "video_input.json")


@dataclass
class VideoQAVocabularies:
    """Question words (PAD 0, UNK 1), the answer classes (the two unknown classes first), the video input."""

    questions: Vocabulary
    answers: AnswerVocabulary
    video_input: dict


def write_videoqa_run_files(run_dir: Path, vocabularies: VideoQAVocabularies) -> None:
    """Write `vocab.json` and `answers.json` into a run directory."""
    vocabularies.questions.save(run_dir / "vocab.json")
    vocabularies.answers.save(run_dir / "answers.json")
    write_json_atomic(run_dir / "video_input.json", vocabularies.video_input)


def read_videoqa_run_files(run_dir: Path) -> VideoQAVocabularies:
    """The vocabularies `write_videoqa_run_files` wrote."""
    path = run_dir / "video_input.json"
    try:
        video_input = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise VlkitError(f"{path} cannot be read ({error}): the run is damaged") from error
    return VideoQAVocabularies(Vocabulary.load(run_dir / "vocab.json"), AnswerVocabulary.load(run_dir / "answers.json"),
                               video_input)
