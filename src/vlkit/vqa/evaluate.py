"""Scoring a trained model on a split and writing its predictions."""

from __future__ import annotations

from pathlib import Path

from vlkit.runs import write_json_atomic
from vlkit.vqa.data import EasyVQADataModule
from vlkit.vqa.easyvqa import ANSWER_TYPES
from vlkit.vqa.inference import predict_questions
from vlkit.vqa.metric import accuracy_report, count_correct
from vlkit.vqa.module import VQAModule


def evaluate_split(
    module: VQAModule, datamodule: EasyVQADataModule, split: str, answers: list[str], run_dir: Path
) -> dict:
    """Accuracy report of `split` ({"overall", "perAnswerType", "num_questions", "split"}).

    Writes `<run_dir>/predictions_<split>.json`: one {index, image_id, question, answer, ground_truth}
    per question, in the split's order.
    """
    data = datamodule.split(split)
    predicted = predict_questions(module, data, datamodule.config.eval_batch_size, f"evaluating {split}")
    correct, total = count_correct(predicted, data.answers, data.answer_types, len(ANSWER_TYPES))
    report = {"split": split, **accuracy_report(correct, total, ANSWER_TYPES), "num_questions": len(data)}
    rows = [
        {
            "index": position,
            "image_id": data.image_ids[int(data.image_row[position])],
            "question": data.questions[position],
            "answer": answers[int(predicted[position])],
            "ground_truth": answers[int(data.answers[position])],
        }
        for position in range(len(data))
    ]
    write_json_atomic(run_dir / f"predictions_{split}.json", rows)
    return report
