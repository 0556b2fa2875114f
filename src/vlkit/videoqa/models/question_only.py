"""`question_only`: the blind baseline of video QA, answering from the question alone.

Word embeddings (GloVe-sized by default) read by an LSTM; its last hidden state goes through a two-layer
classifier. It never sees the video, so it measures how much of a dataset the question's wording gives away
(answer priors per question template): a video model is only worth its cost above this line. On vlkit's
synthetic set the answers are balanced per template, so it stays near chance there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn

from vlkit.core.validation import check_fraction, check_positive_int
from vlkit.nn.recurrent import QuestionLSTM
from vlkit.videoqa.models.registry import QUESTION_INPUTS, register_model


@dataclass
class QuestionOnlyOptions:
    """The `model` section of `question_only`."""

    word_dim: int = 300
    hidden_dim: int = 512
    dropout: float = 0.2
    glove: Optional[str] = None  # GloVe text file the task copies into the word embedding; recipes: "required" | "none"

    def __post_init__(self) -> None:
        check_positive_int(self, "word_dim", "hidden_dim")
        check_fraction(self, "dropout", low_open=False)


class QuestionOnly(nn.Module):
    """questions (B, L) + question_lengths (B,) -> {"logits": (B, A)}."""

    def __init__(self, options: QuestionOnlyOptions, vocab_size: int, num_answers: int):
        super().__init__()
        self.question = QuestionLSTM(vocab_size, options.word_dim, options.hidden_dim)
        self.classifier = nn.Sequential(
            nn.Dropout(options.dropout), nn.Linear(options.hidden_dim, options.hidden_dim), nn.ReLU(),
            nn.Dropout(options.dropout), nn.Linear(options.hidden_dim, num_answers),
        )

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"logits": self.classifier(self.question(batch["questions"], batch["question_lengths"]))}


@register_model("question_only", QuestionOnlyOptions, inputs=QUESTION_INPUTS)
def build_question_only(options: QuestionOnlyOptions, vocab_size: int, num_answers: int) -> QuestionOnly:
    return QuestionOnly(options, vocab_size, num_answers)
