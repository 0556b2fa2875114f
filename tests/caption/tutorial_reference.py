"""sgrvinod/a-PyTorch-Tutorial-to-Image-Captioning's decoder written out as plain tensor maths over its state dict.

The functions read a `DecoderWithAttention` state dict with the tutorial's key names
(`attention.encoder_att.weight`, `decode_step.weight_ih`, `fc.bias`, ...: a checkpoint's decoder
keys, or vlkit's `decoder.*` keys with the prefix removed) and compute what the tutorial computes:
`tutorial_decoder_forward` its teacher-forced `forward` (models.py: captions sorted by decreasing
length, step t run on the captions with more than t decode steps, zeros elsewhere, encoder_att
recomputed at every step), `tutorial_decode_step` one step of caption.py's beam search. Both run
as in eval mode (no dropout).
"""

from __future__ import annotations

import torch

Tensor = torch.Tensor


def linear(state: dict[str, Tensor], name: str, x: Tensor) -> Tensor:
    """x (..., in) -> x @ `name`.weight^T + `name`.bias (..., out)."""
    return x @ state[f"{name}.weight"].T + state[f"{name}.bias"]


def lstm_cell(state: dict[str, Tensor], name: str, x: Tensor, h: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
    """One LSTMCell step, gates in PyTorch's order (input, forget, candidate, output): x (B, I), h, c (B, H)."""
    gates = (x @ state[f"{name}.weight_ih"].T + state[f"{name}.bias_ih"]
             + h @ state[f"{name}.weight_hh"].T + state[f"{name}.bias_hh"])
    i, f, g, o = gates.chunk(4, dim=1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def tutorial_attention(state: dict[str, Tensor], encoder_out: Tensor, h: Tensor) -> tuple[Tensor, Tensor]:
    """models.py `Attention.forward`: encoder_out (B, P, D), h (B, H) -> weighted encoding (B, D), alpha (B, P)."""
    att1 = linear(state, "attention.encoder_att", encoder_out)  # (B, P, A), every call
    att2 = linear(state, "attention.decoder_att", h)  # (B, A)
    att = linear(state, "attention.full_att", torch.relu(att1 + att2[:, None, :]))[:, :, 0]  # (B, P)
    alpha = torch.softmax(att, dim=1)
    return (encoder_out * alpha[:, :, None]).sum(dim=1), alpha


def tutorial_init_hidden_state(state: dict[str, Tensor], encoder_out: Tensor) -> tuple[Tensor, Tensor]:
    """`init_hidden_state`: encoder_out (B, P, D) -> h, c (B, H) from the mean region."""
    mean = encoder_out.mean(dim=1)
    return linear(state, "init_h", mean), linear(state, "init_c", mean)


def tutorial_lstm_input(state: dict[str, Tensor], encoder_out: Tensor, h: Tensor, words: Tensor
                        ) -> tuple[Tensor, Tensor]:
    """The LSTMCell input of one step: [embedding(words); sigmoid(f_beta(h)) * attention-weighted encoding]
    (B, E + D), and alpha (B, P)."""
    awe, alpha = tutorial_attention(state, encoder_out, h)
    gate = torch.sigmoid(linear(state, "f_beta", h))
    return torch.cat([state["embedding.weight"][words], gate * awe], dim=1), alpha


def tutorial_decoder_forward(state: dict[str, Tensor], encoder_out: Tensor, captions: Tensor, lengths: Tensor
                             ) -> tuple[Tensor, Tensor, list[int], Tensor]:
    """`DecoderWithAttention.forward`: encoder_out (B, P, D) or (B, G, G, D), captions (B, T), lengths (B,) or (B, 1)
    -> predictions (B, L, V) and alphas (B, L, P) in the tutorial's order (captions sorted by decreasing length),
    zero past each caption's decode length; the decode lengths (lengths - 1, sorted); sort_ind (B,), the
    original row of each sorted row."""
    batch, dim = encoder_out.shape[0], encoder_out.shape[-1]
    encoder_out = encoder_out.reshape(batch, -1, dim)
    lengths, sort_ind = lengths.reshape(-1).sort(dim=0, descending=True)
    encoder_out, captions = encoder_out[sort_ind], captions[sort_ind]
    h, c = tutorial_init_hidden_state(state, encoder_out)
    decode_lengths = (lengths - 1).tolist()
    vocab_size = state["fc.weight"].shape[0]
    predictions = encoder_out.new_zeros(batch, max(decode_lengths), vocab_size)
    alphas = encoder_out.new_zeros(batch, max(decode_lengths), encoder_out.shape[1])
    for t in range(max(decode_lengths)):
        n = sum(length > t for length in decode_lengths)
        x, alpha = tutorial_lstm_input(state, encoder_out[:n], h[:n], captions[:n, t])
        h, c = lstm_cell(state, "decode_step", x, h[:n], c[:n])
        predictions[:n, t] = linear(state, "fc", h)
        alphas[:n, t] = alpha
    return predictions, alphas, decode_lengths, sort_ind


def tutorial_decode_step(state: dict[str, Tensor], encoder_out: Tensor, h: Tensor, c: Tensor, words: Tensor
                         ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """One step of caption.py's beam search: encoder_out (B, P, D), h, c (B, H), previous words (B,) ->
    log-probabilities over the vocabulary (B, V), the new h and c, alpha (B, P)."""
    x, alpha = tutorial_lstm_input(state, encoder_out, h, words)
    h, c = lstm_cell(state, "decode_step", x, h, c)
    return torch.log_softmax(linear(state, "fc", h), dim=1), h, c, alpha
