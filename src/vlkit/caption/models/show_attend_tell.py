"""Show, Attend and Tell (Xu et al., ICML 2015), soft attention, as sgrvinod/a-PyTorch-Tutorial-to-Image-Captioning
builds it (models.py `Encoder` + `DecoderWithAttention`, train.py).

Encoder: ResNet-101 (ImageNet) without pooling and classifier, adaptive average pooling to 14 x 14,
so 196 regions of 2048 channels (`vlkit.caption.models.encoders`). Decoder: the initial LSTM state
h_0 = init_h(mean of the regions), c_0 = init_c(same). At each step, additive attention over the
regions: alpha = softmax_P(full_att(ReLU(encoder_att(V) + decoder_att(h_{t-1})))), the weighted sum
of the regions times a gate sigmoid(f_beta(h_{t-1})) of 2048 channels, concatenated with the word
embedding (512) into an LSTMCell (2560 -> 512), then dropout (0.5) -> fc to the vocabulary.
Embedding and fc weights start uniform in (-0.1, 0.1), fc bias 0, as the tutorial. Training (done
by the task, not here): cross-entropy over the words plus the doubly stochastic attention term
alpha_c * mean((1 - sum_t alpha_t)^2) with alpha_c = 1; Adam lr 4e-4 (decoder), 1e-4 (encoder when
fine-tuned), gradients clipped at 5 by value, batch 32. Reported by the tutorial on COCO (Karpathy
test, its nltk corpus BLEU): BLEU-4 33.06 (beam 3), 33.29 (beam 5); the paper: BLEU-4 24.3, METEOR
23.90 (VGG encoder).

Module names are the tutorial's, so its checkpoint keys map one to one (`encoder.resnet.4.0.conv1.weight`,
`decoder.attention.encoder_att.weight`, `decoder.decode_step.weight_ih`, `decoder.fc.bias`, ...).
Unlike the tutorial, encoder_att(V) is computed once per batch (`start`), not at every step, and, without
gradients, the attention's (B, k, P, A) sum is formed a few images at a time (`ENERGY_CHUNK_ELEMENTS`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn

from vlkit.caption.models.base import CaptionModel, TensorDict, beams_per_image
from vlkit.caption.models.encoders import EncoderConfig, ImageEncoder, build_encoder
from vlkit.caption.models.registry import register_model
from vlkit.core.validation import check_fraction, check_non_negative, check_positive_int
from vlkit.nn.dropout import Dropout


@dataclass
class ShowAttendTellOptions:
    """Options of `show_attend_tell` (the tutorial's values are the defaults). `alpha_c` weighs the doubly
    stochastic attention regularisation, which the training module adds to the loss."""

    embed_dim: int = 512
    attention_dim: int = 512
    decoder_dim: int = 512
    dropout: float = 0.5
    grid_size: int = 14
    alpha_c: float = 1.0

    def __post_init__(self) -> None:
        check_positive_int(self, "embed_dim", "attention_dim", "decoder_dim", "grid_size")
        check_fraction(self, "dropout", low_open=False)
        check_non_negative(self, "alpha_c")


# Without gradients, the (B, k, P, A) sum of additive attention is formed for a few images at a time in one
# buffer of about this many elements (4 MB in fp32), which stays in the CPU's cache: one (B, k, P, A)
# temporary (60 MB for 50 images at k = 3 and the tutorial's sizes) costs more to allocate and write than
# the rest of the attention.
ENERGY_CHUNK_ELEMENTS = 1 << 20


class Attention(nn.Module):
    """Additive attention over P regions of D channels, from a decoder state of H."""

    def __init__(self, encoder_dim: int, decoder_dim: int, attention_dim: int):
        super().__init__()
        self.encoder_att = nn.Linear(encoder_dim, attention_dim)
        self.decoder_att = nn.Linear(decoder_dim, attention_dim)
        self.full_att = nn.Linear(attention_dim, 1)

    def forward(self, encoder_out: torch.Tensor, projected: torch.Tensor, hidden: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """encoder_out (B, P, D), projected = encoder_att(encoder_out) (B, P, A), hidden (B k, H) of k beams per
        image -> the attention-weighted encoding (B k, D) and the weights (B k, P)."""
        images, regions, _ = projected.shape
        beams = beams_per_image(images, hidden.shape[0])
        query = self.decoder_att(hidden).view(images, beams, 1, -1)  # (B, k, 1, A)
        if torch.is_grad_enabled():
            energy = self.full_att(torch.relu_(projected[:, None] + query))  # (B, k, P, 1), one temporary
        else:
            energy = self.energy_in_chunks(projected, query)
        alpha = torch.softmax(energy.view(images * beams, regions), dim=1)  # (B k, P)
        attended = torch.bmm(alpha.view(images, beams, regions), encoder_out)  # (B, k, D): each image read once
        return attended.view(images * beams, -1), alpha

    def energy_in_chunks(self, projected: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        """full_att(ReLU(projected + query)) without gradients, a few images at a time in one reused buffer
        (see ENERGY_CHUNK_ELEMENTS): projected (B, P, A), query (B, k, 1, A) -> energies (B, k, P)."""
        images, regions, width = projected.shape
        beams = query.shape[1]
        chunk = max(1, min(images, ENERGY_CHUNK_ELEMENTS // (beams * regions * width)))
        joint = projected.new_empty(chunk, beams, regions, width)  # (chunk, k, P, A)
        energy = projected.new_empty(images, beams, regions)
        weights = self.full_att.weight[0].to(joint.dtype)  # (A,); under autocast, the dtype of the activations
        query = query.to(joint.dtype)
        for first in range(0, images, chunk):
            last = min(first + chunk, images)
            part = torch.add(projected[first:last, None], query[first:last], out=joint[:last - first]).relu_()
            torch.matmul(part, weights, out=energy[first:last])
        return energy.add_(self.full_att.bias)


class DecoderWithAttention(nn.Module):
    """The tutorial's decoder modules; `ShowAttendTell` runs them."""

    def __init__(self, options: ShowAttendTellOptions, vocab_size: int, encoder_dim: int):
        super().__init__()
        self.attention = Attention(encoder_dim, options.decoder_dim, options.attention_dim)
        self.embedding = nn.Embedding(vocab_size, options.embed_dim)
        self.dropout = Dropout(options.dropout)
        self.decode_step = nn.LSTMCell(options.embed_dim + encoder_dim, options.decoder_dim)
        self.init_h = nn.Linear(encoder_dim, options.decoder_dim)
        self.init_c = nn.Linear(encoder_dim, options.decoder_dim)
        self.f_beta = nn.Linear(options.decoder_dim, encoder_dim)
        self.fc = nn.Linear(options.decoder_dim, vocab_size)
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
        nn.init.uniform_(self.fc.weight, -0.1, 0.1)
        nn.init.zeros_(self.fc.bias)

    def advance(self, encoder_out: torch.Tensor, projected: torch.Tensor, h: torch.Tensor, c: torch.Tensor,
                embedded: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One LSTM step: encoder_out (B, P, D), projected (B, P, A), h and c (B, H), embedded previous words
        (B, E) -> the new h and c (B, H) and the attention weights (B, P)."""
        attended, alpha = self.attention(encoder_out, projected, h)
        gated = torch.sigmoid(self.f_beta(h)) * attended  # (B, D)
        h, c = self.decode_step(torch.cat([embedded, gated], dim=1), (h, c))
        return h, c, alpha


class ShowAttendTell(CaptionModel):
    """Soft-attention captioner: `encoder` (ImageEncoder) + `decoder` (DecoderWithAttention)."""

    def __init__(self, options: ShowAttendTellOptions, vocab_size: int, encoder: ImageEncoder):
        super().__init__()
        self.vocab_size = vocab_size
        self.alpha_c = options.alpha_c
        self.encoder = encoder
        self.decoder = DecoderWithAttention(options, vocab_size, encoder.out_dim)

    def start(self, encoded: torch.Tensor) -> tuple[TensorDict, TensorDict]:
        """encoded (B, P, D) -> context {"encoder_out" (B, P, D), "projected" (B, P, A)} and state {"h", "c"} (B, H)."""
        mean = encoded.mean(dim=1)
        context = {"encoder_out": encoded, "projected": self.decoder.attention.encoder_att(encoded)}
        return context, {"h": self.decoder.init_h(mean), "c": self.decoder.init_c(mean)}

    def step(self, context: TensorDict, state: TensorDict, words: torch.Tensor
             ) -> tuple[torch.Tensor, TensorDict, Optional[torch.Tensor]]:
        """words (B,) -> logits (B, V), the new state, attention (B, P)."""
        h, c, alpha = self.decoder.advance(context["encoder_out"], context["projected"], state["h"], state["c"],
                                           self.decoder.embedding(words))
        return self.decoder.fc(self.decoder.dropout(h)), {"h": h, "c": c}, alpha

    def forward(self, images: torch.Tensor, captions: torch.Tensor, lengths: torch.Tensor) -> TensorDict:
        """Teacher forcing as `CaptionModel.forward` (logits (B, L, V), attention (B, L, P)), with the tutorial's
        shrinking batch: captions run longest first, step t computes only the captions with more than t
        steps, and the output layer runs once over every valid step. Steps past a caption's end hold zeros,
        as in the tutorial's `predictions` and `alphas`."""
        encoded = self.encode(images)
        batch = encoded.shape[0]
        decode_lengths = lengths.cpu() - 1
        order = torch.argsort(decode_lengths, descending=True, stable=True)
        steps = int(decode_lengths.max())
        running = [int((decode_lengths > t).sum()) for t in range(steps)]
        order_device = order.to(encoded.device)
        context, state = self.start(encoded[order_device])
        embedded = self.decoder.embedding(captions[order_device, :steps])  # (B, L, E)
        h, c = state["h"], state["c"]
        hiddens, alphas = [], []
        for t, count in enumerate(running):
            h, c, alpha = self.decoder.advance(context["encoder_out"][:count], context["projected"][:count],
                                               h[:count], c[:count], embedded[:count, t])
            hiddens.append(h)
            alphas.append(alpha)
        # packed time-major rows -> rows of the flat (B * L) output in the callers' order
        rows = torch.cat([order[:count] * steps + t for t, count in enumerate(running)]).to(encoded.device)
        logits = self.decoder.fc(self.decoder.dropout(torch.cat(hiddens)))  # (sum of decode lengths, V)
        flat_logits = logits.new_zeros(batch * steps, self.vocab_size).index_copy(0, rows, logits)
        alpha = torch.cat(alphas)
        flat_alpha = alpha.new_zeros(batch * steps, alpha.shape[1]).index_copy(0, rows, alpha)
        return {"logits": flat_logits.view(batch, steps, -1), "attention": flat_alpha.view(batch, steps, -1)}


@register_model("show_attend_tell", ShowAttendTellOptions)
def build_show_attend_tell(options: ShowAttendTellOptions, vocab_size: int, encoder: EncoderConfig,
                           pretrained: bool) -> CaptionModel:
    """Show, Attend and Tell over `vocab_size` words with the encoder of `encoder` pooled to options.grid_size."""
    return ShowAttendTell(options, vocab_size, build_encoder(encoder, options.grid_size, pretrained))
