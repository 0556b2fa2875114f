"""Run an LSTM over padded questions so that padding never reaches it."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from vlkit.core.errors import VlkitError


def run_lstm(lstm: nn.LSTM, embedded: torch.Tensor,
             lengths: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    """embedded (B, T, E) word vectors, lengths (B,) real words per question (a zero is a VlkitError) ->
    outputs (B, T, H), zero after each question's last word, and the final (hidden, cell) states,
    each (layers, B, H), taken at each question's own last word."""
    lengths = lengths.cpu()
    empty = (lengths < 1).nonzero().flatten().tolist()
    if empty:
        raise VlkitError(f"questions at batch rows {empty} have no words; every question needs at least one token")
    packed = pack_padded_sequence(embedded, lengths, batch_first=True, enforce_sorted=False)
    packed_outputs, state = lstm(packed)
    outputs, _ = pad_packed_sequence(packed_outputs, batch_first=True, total_length=embedded.shape[1])
    return outputs, state


class QuestionLSTM(nn.Module):
    """Word embeddings read by a one-layer LSTM; the question vector is the last hidden state."""

    def __init__(self, vocab_size: int, embed_dim: int, hidden_dim: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.lstm = nn.LSTM(embed_dim, hidden_dim, batch_first=True)

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """tokens (B, T) int64, lengths (B,) -> question vectors (B, hidden_dim). Padding is ignored."""
        _, (hidden, _) = run_lstm(self.lstm, self.embedding(tokens), lengths)
        return hidden[-1]
