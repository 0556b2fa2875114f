"""Knowing When to Look: Adaptive Attention via a Visual Sentinel (Lu, Xiong, Parikh, Socher, CVPR 2017).

The paper's equations, with the settings of its code (jiasenlu/AdaptiveAttention, Lua Torch):
ResNet-152 last-stage grid (k = 7 x 7 = 49 regions of 2048) a_i; v_i = ReLU(W_a a_i) and the global
v_g = ReLU(W_b a_g), a_g = mean of the a_i, both of d = 512. The LSTM (512, zero initial state) reads
x_t = [w_t; v_g] (word embedding 512). The visual sentinel s_t = g_t * tanh(m_t) with the sentinel
gate g_t = sigmoid(W_x x_t + W_h h_{t-1}) and m_t the LSTM's new memory cell. Attention over the
k regions and the sentinel: z_t = w_h^T tanh(W_v V + (W_g h_t) 1^T) and
w_h^T tanh(W_s s_t + W_g h_t) for the sentinel, alpha_hat = softmax over the k + 1 scores,
beta_t = its last entry, c_hat_t = beta_t s_t + (1 - beta_t) c_t where c_t = sum_i alpha_i v_i with
alpha = softmax over the k region scores only (so (1 - beta_t) alpha = the first k entries of
alpha_hat), and p_t = softmax(W_p (c_hat_t + h_t)). Dropout 0.5 as the code: on the word
embeddings, on V and v_g, and on h_t and s_t (the LSTM's outputs). W_v V is computed once per batch
(`start`). Trained by the code with Adam (lr 4e-4, beta1 0.8), gradients clipped at 0.1, batches of
20 images x 5 captions, the CNN fine-tuned (lr 1e-5) only after 20 epochs. Reported (paper, COCO
Karpathy test): BLEU-4 33.2, METEOR 26.6, CIDEr 108.5.

Departures from the code, which follows the paper less literally: the code puts a ReLU on the word
embeddings, a linear layer + ReLU on s_t before W_s, a linear layer + tanh on h_t (used in place of
h_t by W_g and the output), biases in W_v, W_s, W_g, a dropout inside the attention, and a linear
layer + tanh between c_hat_t + h_t and W_p; it also stores the sentinel first. Here the paper's
equations stand as written.

`step` returns the first k entries of alpha_hat as the attention: they sum to 1 - beta_t, so
beta_t = 1 - attention.sum(-1) is the sentinel gate (how much the word relies on the language model).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn

from vlkit.caption.models.base import CaptionModel, TensorDict, beams_per_image
from vlkit.caption.models.encoders import EncoderConfig, ImageEncoder, build_encoder
from vlkit.caption.models.registry import register_model
from vlkit.core.validation import check_fraction, check_positive_int
from vlkit.nn.dropout import Dropout


@dataclass
class AdaptiveOptions:
    """Options of `adaptive` (the code's values are the defaults): d = hidden_dim, attention_dim the size of the
    attention layer (W_v, W_g, W_s map to it)."""

    embed_dim: int = 512
    hidden_dim: int = 512
    attention_dim: int = 512
    dropout: float = 0.5
    grid_size: int = 7

    def __post_init__(self) -> None:
        check_positive_int(self, "embed_dim", "hidden_dim", "attention_dim", "grid_size")
        check_fraction(self, "dropout", low_open=False)


class Adaptive(CaptionModel):
    """Adaptive attention with a visual sentinel; parameter names follow the paper's symbols."""

    def __init__(self, options: AdaptiveOptions, vocab_size: int, encoder: ImageEncoder):
        super().__init__()
        d, k = options.hidden_dim, options.attention_dim
        self.vocab_size = vocab_size
        self.encoder = encoder
        self.W_a = nn.Linear(encoder.out_dim, d)  # regions -> v_i
        self.W_b = nn.Linear(encoder.out_dim, d)  # mean region -> v_g
        self.embedding = nn.Embedding(vocab_size, options.embed_dim)
        self.lstm = nn.LSTMCell(options.embed_dim + d, d)
        self.W_x = nn.Linear(options.embed_dim + d, d)  # sentinel gate, from x_t
        self.W_h = nn.Linear(d, d, bias=False)  # sentinel gate, from h_{t-1}
        self.W_v = nn.Linear(d, k, bias=False)
        self.W_g = nn.Linear(d, k, bias=False)
        self.W_s = nn.Linear(d, k, bias=False)
        self.w_h = nn.Linear(k, 1, bias=False)
        self.W_p = nn.Linear(d, vocab_size)
        self.dropout = Dropout(options.dropout)

    def start(self, encoded: torch.Tensor) -> tuple[TensorDict, TensorDict]:
        """encoded (B, k, D) -> context {"V" (B, k, d), "W_v_V" (B, k, A), "v_g" (B, d)}, zero state {"h", "c"} (B, d)."""
        regions = self.dropout(torch.relu(self.W_a(encoded)))  # (B, k, d)
        global_vector = self.dropout(torch.relu(self.W_b(encoded.mean(dim=1))))  # (B, d)
        zeros = global_vector.new_zeros(global_vector.shape)
        context = {"V": regions, "W_v_V": self.W_v(regions), "v_g": global_vector}
        return context, {"h": zeros, "c": zeros}

    def step(self, context: TensorDict, state: TensorDict, words: torch.Tensor
             ) -> tuple[torch.Tensor, TensorDict, Optional[torch.Tensor]]:
        """words (B b,) of b beams per image -> logits (B b, V), the new state, attention over the k regions
        (B b, k), summing to 1 - beta."""
        images, regions, _ = context["V"].shape
        beams = beams_per_image(images, words.shape[0])
        global_vector = context["v_g"].repeat_interleave(beams, dim=0) if beams > 1 else context["v_g"]
        x = torch.cat([self.dropout(self.embedding(words)), global_vector], dim=1)  # (B b, E + d)
        h, c = self.lstm(x, (state["h"], state["c"]))
        gate = torch.sigmoid(self.W_x(x) + self.W_h(state["h"]))  # g_t (B, d)
        sentinel = self.dropout(gate * torch.tanh(c))  # s_t (B, d)
        hidden = self.dropout(h)
        query = self.W_g(hidden)  # (B b, A)
        joint = torch.tanh(context["W_v_V"][:, None] + query.view(images, beams, 1, -1))  # (B, b, k, A)
        region_scores = self.w_h(joint).view(images * beams, regions)  # z_t (B b, k)
        sentinel_score = self.w_h(torch.tanh(self.W_s(sentinel) + query))  # (B b, 1)
        alpha_hat = torch.softmax(torch.cat([region_scores, sentinel_score], dim=1), dim=1)  # (B b, k + 1)
        attention, beta = alpha_hat[:, :-1], alpha_hat[:, -1:]
        attended = torch.bmm(attention.reshape(images, beams, regions), context["V"])  # (B, b, d)
        c_hat = attended.view(images * beams, -1) + beta * sentinel  # (B b, d)
        return self.W_p(c_hat + hidden), {"h": h, "c": c}, attention


@register_model("adaptive", AdaptiveOptions)
def build_adaptive(options: AdaptiveOptions, vocab_size: int, encoder: EncoderConfig,
                   pretrained: bool) -> CaptionModel:
    """Adaptive attention over `vocab_size` words on the encoder grid of options.grid_size."""
    return Adaptive(options, vocab_size, build_encoder(encoder, options.grid_size, pretrained))
