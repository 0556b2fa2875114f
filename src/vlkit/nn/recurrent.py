"""Run an LSTM over padded questions so that padding never reaches it; a BiLSTM's last states over full sequences."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vlkit.core.errors import VlkitError


@torch.compiler.disable  # a Python loop over data-dependent step sizes: eager even inside a compiled model
def run_lstm(lstm: nn.LSTM, embedded: torch.Tensor,
             lengths: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    """embedded (B, T, E) word vectors, lengths (B,) real words per question (a zero is a VlkitError) ->
    outputs (B, T, H), zero after each question's last word, and the final (hidden, cell) states,
    each (layers, B, H), taken at each question's own last word.

    What a packed sequence gives, computed step by step on the questions still running (longest
    first): the input projections of all words in one matmul per layer, then at step t only the
    n_t questions longer than t. PyTorch's packed LSTM on the CPU zero-fills a gradient of the whole
    packed input at every step of its backward pass; here each step's gradient is only its own rows
    (about 15% faster for SAAA's 1024-wide LSTM on two cores, level for small ones)."""
    if lstm.bidirectional or lstm.proj_size:
        raise ValueError("run_lstm reads unidirectional LSTMs without projections")
    lengths = lengths.cpu()
    empty = (lengths < 1).nonzero().flatten().tolist()
    if empty:
        raise VlkitError(f"questions at batch rows {empty} have no words; every question needs at least one token")
    batch, total_length = embedded.shape[:2]
    order = torch.argsort(lengths, descending=True, stable=True)
    steps = int(lengths.max())
    running = [int((lengths > t).sum()) for t in range(steps)]  # questions still running at each step
    layer_input = embedded[order.to(embedded.device), :steps]  # (B, steps, E), longest first
    hiddens, cells = [], []
    for layer in range(lstm.num_layers):
        outputs, hidden, cell = _lstm_layer(lstm, layer, layer_input, running)
        hiddens.append(hidden)
        cells.append(cell)
        is_last = layer == lstm.num_layers - 1
        layer_input = outputs if is_last else F.dropout(outputs, lstm.dropout, lstm.training)
    restore = torch.argsort(order).to(embedded.device)
    outputs = F.pad(layer_input, (0, 0, 0, total_length - steps))[restore]  # (B, T, H)
    return outputs, (torch.stack(hiddens)[:, restore], torch.stack(cells)[:, restore])


def _lstm_layer(lstm: nn.LSTM, layer: int, inputs: torch.Tensor, running: list[int]
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One layer over inputs (B, S, E) sorted longest first; running[t] rows take step t.

    Returns outputs (B, S, H), zero where a question has ended, and each row's last hidden and cell state
    (B, H). Gate order of PyTorch's weights: input, forget, cell candidate, output."""
    weight_hh = getattr(lstm, f"weight_hh_l{layer}")
    bias = getattr(lstm, f"bias_ih_l{layer}") + getattr(lstm, f"bias_hh_l{layer}") if lstm.bias else None
    input_gates = F.linear(inputs, getattr(lstm, f"weight_ih_l{layer}"), bias).unbind(1)  # S x (B, 4H)
    batch, size = inputs.shape[0], weight_hh.shape[1]
    hidden = cell = inputs.new_zeros(batch, size)
    outputs = []
    for step, rows in enumerate(running):
        gates = torch.addmm(input_gates[step][:rows], hidden[:rows], weight_hh.t())
        input_gate, forget_gate, candidate, output_gate = gates.chunk(4, dim=1)
        new_cell = torch.sigmoid(forget_gate) * cell[:rows] + torch.sigmoid(input_gate) * torch.tanh(candidate)
        new_hidden = torch.sigmoid(output_gate) * torch.tanh(new_cell)
        outputs.append(F.pad(new_hidden, (0, 0, 0, batch - rows)))
        hidden = torch.cat([new_hidden, hidden[rows:]])
        cell = torch.cat([new_cell, cell[rows:]])
    return torch.stack(outputs, dim=1), hidden, cell


def bidirectional_last_states(lstm: nn.LSTM, inputs: torch.Tensor) -> torch.Tensor:
    """inputs (N, T, D), every step real -> the last hidden states of a one-layer BiLSTM's two directions (N, 2H),
    forward then backward: what `lstm(inputs)[1][0]` holds, computed from the LSTM's own weights.

    On the CPU, the input projections of both directions are one matmul over all steps and the recurrences
    run as matmuls, so the backward pass computes only what is needed: PyTorch's fused CPU LSTM always
    computes the gradient of its input, even when nothing needs it (DualVGR's frame features), and takes
    about 1.4x longer over its step (docs/BENCHMARKS.md). Elsewhere the fused LSTM (cuDNN) runs."""
    if not lstm.bidirectional or lstm.num_layers != 1 or lstm.proj_size or not lstm.batch_first:
        raise ValueError("bidirectional_last_states reads one-layer, batch-first BiLSTMs without projections")
    if inputs.device.type != "cpu":
        hidden = lstm(inputs)[1][0]  # (2, N, H)
        return torch.cat([hidden[0], hidden[1]], dim=-1)
    weight_ih = torch.cat([lstm.weight_ih_l0, lstm.weight_ih_l0_reverse])  # (8H, D)
    bias = (torch.cat([lstm.bias_ih_l0 + lstm.bias_hh_l0, lstm.bias_ih_l0_reverse + lstm.bias_hh_l0_reverse])
            if lstm.bias else None)
    forward_gates, backward_gates = F.linear(inputs, weight_ih, bias).chunk(2, dim=2)  # (N, T, 4H) each
    states = []
    for gates, weight_hh, steps in ((forward_gates, lstm.weight_hh_l0, range(inputs.shape[1])),
                                    (backward_gates, lstm.weight_hh_l0_reverse, reversed(range(inputs.shape[1])))):
        per_step = gates.unbind(1)
        hidden = cell = inputs.new_zeros(inputs.shape[0], weight_hh.shape[1])
        for step in steps:
            input_gate, forget_gate, candidate, output_gate = torch.addmm(per_step[step], hidden,
                                                                          weight_hh.t()).chunk(4, dim=1)
            cell = torch.sigmoid(forget_gate) * cell + torch.sigmoid(input_gate) * torch.tanh(candidate)
            hidden = torch.sigmoid(output_gate) * torch.tanh(cell)
        states.append(hidden)
    return torch.cat(states, dim=-1)


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
