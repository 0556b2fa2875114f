"""Single-answer VQA accuracy, overall and per answer type (used for easy-VQA).

Percentages are rounded to 2 decimals, as the official VQA evaluation script reports them.
"""

from __future__ import annotations

import torch


def count_correct(
    predicted: torch.Tensor, answers: torch.Tensor, answer_types: torch.Tensor, num_types: int,
    counted: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per answer type (correct, total) counts (num_types,) int64 for predicted / true indices (B,).

    `counted` (B,) bool leaves out the questions marked False (padding of an evaluation shard).
    """
    weight = torch.ones_like(answers) if counted is None else counted.long()
    correct = torch.zeros(num_types, dtype=torch.long, device=answers.device)
    total = torch.zeros(num_types, dtype=torch.long, device=answers.device)
    correct.scatter_add_(0, answer_types, (predicted == answers).long() * weight)
    total.scatter_add_(0, answer_types, weight)
    return correct, total


def single_answer_report(correct: torch.Tensor, total: torch.Tensor, type_names: tuple[str, ...]) -> dict:
    """{"overall": %, "perAnswerType": {type: %}} from per-type counts; types with no question are left out."""
    if int(total.sum()) == 0:
        raise ValueError("accuracy of an empty split")
    per_type = {
        name: round(100.0 * int(c) / int(t), 2) for name, c, t in zip(type_names, correct, total) if int(t) > 0
    }
    overall = round(100.0 * int(correct.sum()) / int(total.sum()), 2)
    return {"overall": overall, "perAnswerType": per_type}
