"""Scoring a trained model on a split and writing its predictions."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from vlkit.runs import write_json_atomic
from vlkit.vqa.datamodules import VQADataModule
from vlkit.vqa.inference import predict_split
from vlkit.vqa.module import VQAModule


def evaluate_split(module: VQAModule, datamodule: VQADataModule, split: str, run_dir: Path,
                   results_out: Optional[Path] = None) -> dict:
    """Predict every question of `split`, write the predictions, and score them when the split has answers.

    Writes `<run_dir>/predictions_<split>.json` (the data module's rows: for VQA the EvalAI results
    format [{question_id, answer}]) and, with `results_out`, the same rows there. Returns
    {"split", "num_questions", "predictions"} plus, for annotated splits, the accuracy report.
    """
    predicted = predict_split(module, datamodule, split)
    rows = datamodule.prediction_rows(split, predicted)
    predictions_path = run_dir / f"predictions_{split}.json"
    write_json_atomic(predictions_path, rows)
    if results_out is not None:
        write_json_atomic(Path(results_out), rows)
    report = {"split": split, "num_questions": len(rows), "predictions": str(predictions_path)}
    if datamodule.has_answers(split):
        report.update(datamodule.score(split, predicted))
    return report
