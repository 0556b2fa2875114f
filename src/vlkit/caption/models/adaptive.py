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

`variant`: "paper" (the default) takes the paper's equations as written. "code" computes what the
code computes (misc/LSTM.lua, misc/attention.lua, misc/img_embedding.lua, misc/LanguageModel.lua),
which follows the paper less literally: a ReLU on the word embeddings (before their dropout); the
sentinel replaced by s'_t = dropout(ReLU(linear(s_t))), which both W_s scores and c_hat_t mixes in;
h_t replaced by h'_t = dropout(tanh(linear(h_t))), which both W_g reads and the output adds; biases
in W_v, W_s and W_g; dropout on the attention's tanh layer (of the regions and of the sentinel)
before w_h; and dropout(tanh(linear(c_hat_t + h'_t))) before W_p. The code also stores the sentinel
first, before the k regions (the order changes nothing), and gives w_h a bias, which adds the same
to every score and so changes nothing under the softmax: neither is reproduced.

`alpha_c` > 0 adds Xu et al.'s doubly stochastic attention penalty (the `show_attend_tell` option of
the same name and meaning; neither the paper nor its code has it) to the training loss, over the
region weights (1 - beta_t) alpha that `step` returns. Why it exists: with a CNN trained from
scratch (the embedded synthetic default), the regions say nothing at first, so the sentinel gate
saturates early in training (beta_t ~ 1 at every word), after which the region attention and the
CNN behind it get almost no gradient (it is scaled by 1 - beta_t) and the model never learns to look;
with the paper's ImageNet ResNet the regions are informative from the first step. The penalty keeps
the regions read while the CNN learns; a large alpha_c also drives beta_t to 0 at every word.

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
from vlkit.core.validation import check_choice, check_fraction, check_non_negative, check_positive_int
from vlkit.nn.dropout import Dropout

PAPER, CODE = "paper", "code"


@dataclass
class AdaptiveOptions:
    """Options of `adaptive` (the code's values are the defaults): d = hidden_dim, attention_dim the size of the
    attention layer (W_v, W_g, W_s map to it). `variant`: "paper" or "code" (see the module docstring);
    `alpha_c` weighs the doubly stochastic attention penalty that the training module adds (0: none, as the paper)."""

    embed_dim: int = 512
    hidden_dim: int = 512
    attention_dim: int = 512
    dropout: float = 0.5
    grid_size: int = 7
    variant: str = PAPER
    alpha_c: float = 0.0

    def __post_init__(self) -> None:
        check_positive_int(self, "embed_dim", "hidden_dim", "attention_dim", "grid_size")
        check_fraction(self, "dropout", low_open=False)
        check_choice(self, "variant", (PAPER, CODE))
        check_non_negative(self, "alpha_c")


class Adaptive(CaptionModel):
    """Adaptive attention with a visual sentinel; parameter names follow the paper's symbols. With the code's
    variant, `sentinel_layer`, `hidden_layer` and `output_layer` are the code's three extra linear layers."""

    def __init__(self, options: AdaptiveOptions, vocab_size: int, encoder: ImageEncoder):
        super().__init__()
        d, k = options.hidden_dim, options.attention_dim
        self.as_code = options.variant == CODE
        self.vocab_size = vocab_size
        self.encoder = encoder
        self.W_a = nn.Linear(encoder.out_dim, d)  # regions -> v_i
        self.W_b = nn.Linear(encoder.out_dim, d)  # mean region -> v_g
        self.embedding = nn.Embedding(vocab_size, options.embed_dim)
        self.lstm = nn.LSTMCell(options.embed_dim + d, d)
        self.W_x = nn.Linear(options.embed_dim + d, d)  # sentinel gate, from x_t
        self.W_h = nn.Linear(d, d, bias=False)  # sentinel gate, from h_{t-1}
        self.W_v = nn.Linear(d, k, bias=self.as_code)
        self.W_g = nn.Linear(d, k, bias=self.as_code)
        self.W_s = nn.Linear(d, k, bias=self.as_code)
        self.w_h = nn.Linear(k, 1, bias=False)
        self.W_p = nn.Linear(d, vocab_size)
        self.dropout = Dropout(options.dropout)
        if self.as_code:
            self.sentinel_layer = nn.Linear(d, d)  # s'_t = ReLU(.)
            self.hidden_layer = nn.Linear(d, d)  # h'_t = tanh(.)
            self.output_layer = nn.Linear(d, d)  # tanh(.) of c_hat_t + h'_t, before W_p

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
        embedded = self.embedding(words)  # (B b, E)
        if self.as_code:
            embedded = torch.relu(embedded)
        x = torch.cat([self.dropout(embedded), global_vector], dim=1)  # (B b, E + d)
        h, c = self.lstm(x, (state["h"], state["c"]))
        gate = torch.sigmoid(self.W_x(x) + self.W_h(state["h"]))  # g_t (B b, d)
        sentinel = self.dropout(gate * torch.tanh(c))  # s_t (B b, d)
        hidden = self.dropout(h)
        if self.as_code:
            sentinel = self.dropout(torch.relu(self.sentinel_layer(sentinel)))  # s'_t
            hidden = self.dropout(torch.tanh(self.hidden_layer(hidden)))  # h'_t
        query = self.W_g(hidden)  # (B b, A)
        joint = torch.tanh(context["W_v_V"][:, None] + query.view(images, beams, 1, -1))  # (B, b, k, A)
        sentinel_joint = torch.tanh(self.W_s(sentinel) + query)  # (B b, A)
        if self.as_code:
            joint, sentinel_joint = self.dropout(joint), self.dropout(sentinel_joint)
        region_scores = self.w_h(joint).view(images * beams, regions)  # z_t (B b, k)
        sentinel_score = self.w_h(sentinel_joint)  # (B b, 1)
        alpha_hat = torch.softmax(torch.cat([region_scores, sentinel_score], dim=1), dim=1)  # (B b, k + 1)
        attention, beta = alpha_hat[:, :-1], alpha_hat[:, -1:]
        attended = torch.bmm(attention.reshape(images, beams, regions), context["V"])  # (B, b, d)
        output = attended.view(images * beams, -1) + beta * sentinel + hidden  # c_hat_t + h_t (B b, d)
        if self.as_code:
            output = self.dropout(torch.tanh(self.output_layer(output)))
        return self.W_p(output), {"h": h, "c": c}, attention


@register_model("adaptive", AdaptiveOptions)
def build_adaptive(options: AdaptiveOptions, vocab_size: int, encoder: EncoderConfig,
                   pretrained: bool) -> CaptionModel:
    """Adaptive attention over `vocab_size` words on the encoder grid of options.grid_size."""
    return Adaptive(options, vocab_size, build_encoder(encoder, options.grid_size, pretrained))
