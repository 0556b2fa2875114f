"""Write small VQA v1/v2 (and MCAN Visual Genome) question/annotation files in the official layout."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from vlkit.vqa.data.splits import split_files


@dataclass(frozen=True)
class SynthQuestion:
    """One question with its image, types and the human answers (usually 10)."""

    question_id: int
    image_id: int
    question: str
    question_type: str
    answer_type: str
    answers: tuple[str, ...]


def write_vqa_part(root: Path, part: str, items: list[SynthQuestion], version: str = "v2") -> None:
    """Write the questions (and, for annotated parts, annotations) file of one part under `root`."""
    questions_path, annotations_path = split_files(Path(root), part, version)
    questions_path.parent.mkdir(parents=True, exist_ok=True)
    questions_path.write_text(json.dumps({
        "info": {}, "task_type": "Open-Ended", "data_type": "mscoco", "license": {}, "data_subtype": part,
        "questions": [{"image_id": q.image_id, "question": q.question, "question_id": q.question_id} for q in items],
    }))
    if annotations_path is not None:
        annotations_path.write_text(json.dumps({
            "info": {}, "data_type": "mscoco", "license": {}, "data_subtype": part,
            "annotations": [{
                "question_id": q.question_id, "image_id": q.image_id, "question_type": q.question_type,
                "answer_type": q.answer_type, "multiple_choice_answer": max(set(q.answers), key=q.answers.count),
                "answers": [{"answer": a, "answer_confidence": "yes", "answer_id": i + 1}
                            for i, a in enumerate(q.answers)],
            } for q in items],
        }))
