"""Question-guided spatial attention over an end-to-end CNN grid: the embedded default VQA model.

The classic one-hop "stacked attention" recipe (Yang et al., "Stacked Attention Networks for Image
Question Answering", CVPR 2016, with one hop) on a small CNN trained from scratch, sized for the
easy-VQA dataset (64x64 images, 13 answers): the question is embedded and read by an LSTM; each
grid cell gets the score w^T tanh(W_v v_i + W_q q); a softmax over cells weights the grid; the
attended image vectors and the question vector are concatenated and classified by an MLP.

Reference number: the easy-VQA authors' Keras CNN + bag-of-words model reports 99.5% test accuracy
(trained on a dataset twice as large); see docs/BENCHMARKS.md for what this model reaches.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from vlkit.nn.classifier import mlp_classifier
from vlkit.nn.recurrent import QuestionLSTM
from vlkit.vision.small_cnn import SmallCNN
from vlkit.vqa.models.registry import IMAGE_INPUTS, register_model


@dataclass
class CnnLstmAttOptions:
    """Options of `cnn_lstm_att`."""

    cnn_channels: list[int] = field(default_factory=lambda: [32, 64, 128])
    embed_dim: int = 64
    hidden_dim: int = 128
    attention_dim: int = 128
    glimpses: int = 1
    classifier_dim: int = 256
    dropout: float = 0.1


class CnnLstmAttention(nn.Module):
    """VQA model: images (U, 3, H, W) + questions (B, T) with image_index (B,) -> answer logits (B, A)."""

    def __init__(self, options: CnnLstmAttOptions, vocab_size: int, num_answers: int):
        super().__init__()
        self.glimpses = options.glimpses
        self.cnn = SmallCNN(options.cnn_channels)
        channels = self.cnn.out_channels
        self.question = QuestionLSTM(vocab_size, options.embed_dim, options.hidden_dim)
        self.image_proj = nn.Linear(channels, options.attention_dim)
        self.question_proj = nn.Linear(options.hidden_dim, options.attention_dim)
        self.attention_score = nn.Linear(options.attention_dim, options.glimpses, bias=False)  # softmax ignores a bias
        self.classifier = mlp_classifier(options.glimpses * channels + options.hidden_dim, options.classifier_dim,
                                         num_answers, options.dropout)

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Answer a batch of questions.

        batch["images"] (U, 3, H, W): each distinct image of the batch once; batch["image_index"] (B,):
        row in `images` of each question's image; batch["tokens"] (B, T); batch["lengths"] (B,).
        Returns logits (B, A) and attention (B, G, H', W') summing to 1 over each grid.
        """
        image_index, tokens, lengths = batch["image_index"], batch["tokens"], batch["lengths"]
        grid = self.cnn(batch["images"])  # (U, C, h, w)
        height, width = grid.shape[-2:]
        cells = grid.flatten(2).transpose(1, 2)  # (U, N, C)
        projected_cells = self.image_proj(cells)  # (U, N, K), computed once per distinct image
        question = self.question(tokens, lengths)  # (B, H)
        hidden = torch.tanh(projected_cells[image_index] + self.question_proj(question).unsqueeze(1))  # (B, N, K)
        attention = torch.softmax(self.attention_score(hidden), dim=1)  # (B, N, G)
        attended = torch.einsum("bng,bnc->bgc", attention, cells[image_index])  # (B, G, C)
        logits = self.classifier(torch.cat([attended.flatten(1), question], dim=1))  # (B, A)
        attention_maps = attention.transpose(1, 2).reshape(-1, self.glimpses, height, width)  # (B, G, h, w)
        return {"logits": logits, "attention": attention_maps}


@register_model("cnn_lstm_att", CnnLstmAttOptions, inputs=IMAGE_INPUTS)
def build_cnn_lstm_att(options: CnnLstmAttOptions, vocab_size: int, num_answers: int) -> nn.Module:
    """Build `cnn_lstm_att` for a question vocabulary and an answer list of the given sizes."""
    return CnnLstmAttention(options, vocab_size, num_answers)
