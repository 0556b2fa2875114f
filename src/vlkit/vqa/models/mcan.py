"""MCAN: Deep Modular Co-Attention Networks (Yu et al., CVPR 2019), encoder-decoder variant.

As MILVLG/mcan-vqa builds it: GloVe-sized word embeddings (300) read by an LSTM (hidden H); image
region features (up to 100 bottom-up-attention boxes x 2048) projected to H; 6 self-attention (SA)
layers on the question, then 6 self-guided-attention (SGA) layers on the regions, each guided by
the *final* question features; 8 heads, attention dropout 0.1, post-LN residuals, FFN of 4H; the
reference's own LayerNorm (unbiased std, eps added to the std); AttFlat (MLP H -> 512 -> 1 glimpse,
softmax over positions, linear H -> 2H) on both streams; their sum -> LayerNorm -> Linear(2H, A).
Masked positions get -1e9 before each softmax, as in the reference. The reference applies a
sigmoid and BCE (sum); vlkit returns the logits and trains with BCE-with-logits.

Module and parameter names follow the reference checkpoints (`backbone.enc_list.0.mhatt.linear_q`,
`attflat_img.mlp.fc.linear`, `proj_norm.a_2`, ...), so a mcan-vqa state_dict maps one to one.
Reported (VQA v2 test-dev, train+val+vg): small 70.69 overall, large 70.82 (paper) / 70.93 (repo);
small on val trained on train: 67.17.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn

from vlkit.core.validation import check_choice
from vlkit.nn.recurrent import run_lstm
from vlkit.text.glove import GLOVE_ROWS
from vlkit.vqa.models.registry import register_model

MASK_FILL = -1e9


@dataclass
class McanOptions:
    """Options of `mcan_small` (defaults) and `mcan_large` (hidden_size 1024, flat_out_size 2048)."""

    feature_dim: int = 2048
    embed_dim: int = 300
    hidden_size: int = 512
    heads: int = 8
    layers: int = 6
    dropout: float = 0.1
    flat_mlp_size: int = 512
    flat_glimpses: int = 1
    flat_out_size: int = 1024
    glove: Optional[str] = None  # GloVe text file the word embeddings start from; recipes: "required" | "none"
    glove_rows: str = "mcan"  # mcan: PAD/UNK rows are GloVe's "PAD"/"UNK", missing words zero | vlkit (see glove.py)

    def __post_init__(self) -> None:
        check_choice(self, "glove_rows", GLOVE_ROWS)


@dataclass
class McanLargeOptions(McanOptions):
    hidden_size: int = 1024
    flat_out_size: int = 2048


class ReferenceLayerNorm(nn.Module):
    """mcan-vqa's LayerNorm: a_2 * (x - mean) / (std + eps) + b_2, with the *unbiased* std."""

    def __init__(self, size: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.a_2 = nn.Parameter(torch.ones(size))
        self.b_2 = nn.Parameter(torch.zeros(size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.a_2 * (x - x.mean(-1, keepdim=True)) / (x.std(-1, keepdim=True) + self.eps) + self.b_2


class FC(nn.Module):
    """Linear -> ReLU -> dropout (the reference's `FC` with use_relu)."""

    def __init__(self, in_size: int, out_size: int, dropout: float):
        super().__init__()
        self.linear = nn.Linear(in_size, out_size)
        self.relu = nn.ReLU(inplace=True)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.relu(self.linear(x)))


class MLP(nn.Module):
    """FC(in -> mid) then Linear(mid -> out)."""

    def __init__(self, in_size: int, mid_size: int, out_size: int, dropout: float):
        super().__init__()
        self.fc = FC(in_size, mid_size, dropout)
        self.linear = nn.Linear(mid_size, out_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.fc(x))


class MultiHeadAttention(nn.Module):
    """Scaled dot-product attention with `heads` heads; `mask` (B, 1, 1, Lk) True where padded."""

    def __init__(self, options: McanOptions):
        super().__init__()
        size = options.hidden_size
        self.heads = options.heads
        self.linear_v = nn.Linear(size, size)
        self.linear_k = nn.Linear(size, size)
        self.linear_q = nn.Linear(size, size)
        self.linear_merge = nn.Linear(size, size)
        self.dropout = nn.Dropout(options.dropout)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, size = x.shape
        return x.view(batch, length, self.heads, size // self.heads).transpose(1, 2)  # (B, h, L, d)

    def forward(self, v: torch.Tensor, k: torch.Tensor, q: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """v, k (B, Lk, H); q (B, Lq, H) -> (B, Lq, H)."""
        value, key, query = self.split_heads(self.linear_v(v)), self.split_heads(self.linear_k(k)), \
            self.split_heads(self.linear_q(q))
        scores = query @ key.transpose(-2, -1) / math.sqrt(query.shape[-1])  # (B, h, Lq, Lk)
        weights = self.dropout(torch.softmax(scores.masked_fill(mask, MASK_FILL), dim=-1))
        attended = (weights @ value).transpose(1, 2).reshape(q.shape)  # (B, Lq, H)
        return self.linear_merge(attended)


class FFN(nn.Module):
    def __init__(self, options: McanOptions):
        super().__init__()
        self.mlp = MLP(options.hidden_size, 4 * options.hidden_size, options.hidden_size, options.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(x)


class SA(nn.Module):
    """Self-attention unit: x = LN(x + SelfAtt(x)); x = LN(x + FFN(x))."""

    def __init__(self, options: McanOptions):
        super().__init__()
        self.mhatt = MultiHeadAttention(options)
        self.ffn = FFN(options)
        self.dropout1, self.norm1 = nn.Dropout(options.dropout), ReferenceLayerNorm(options.hidden_size)
        self.dropout2, self.norm2 = nn.Dropout(options.dropout), ReferenceLayerNorm(options.hidden_size)

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor) -> torch.Tensor:
        x = self.norm1(x + self.dropout1(self.mhatt(x, x, x, x_mask)))
        return self.norm2(x + self.dropout2(self.ffn(x)))


class SGA(nn.Module):
    """Self-guided attention unit: self-attention on x, then attention from x to the guide y, then FFN."""

    def __init__(self, options: McanOptions):
        super().__init__()
        self.mhatt1 = MultiHeadAttention(options)
        self.mhatt2 = MultiHeadAttention(options)
        self.ffn = FFN(options)
        self.dropout1, self.norm1 = nn.Dropout(options.dropout), ReferenceLayerNorm(options.hidden_size)
        self.dropout2, self.norm2 = nn.Dropout(options.dropout), ReferenceLayerNorm(options.hidden_size)
        self.dropout3, self.norm3 = nn.Dropout(options.dropout), ReferenceLayerNorm(options.hidden_size)

    def forward(self, x: torch.Tensor, y: torch.Tensor, x_mask: torch.Tensor, y_mask: torch.Tensor) -> torch.Tensor:
        x = self.norm1(x + self.dropout1(self.mhatt1(x, x, x, x_mask)))
        x = self.norm2(x + self.dropout2(self.mhatt2(y, y, x, y_mask)))
        return self.norm3(x + self.dropout3(self.ffn(x)))


class EncoderDecoder(nn.Module):
    """6 SA layers on the question, then 6 SGA layers on the image guided by the final question features."""

    def __init__(self, options: McanOptions):
        super().__init__()
        self.enc_list = nn.ModuleList([SA(options) for _ in range(options.layers)])
        self.dec_list = nn.ModuleList([SGA(options) for _ in range(options.layers)])

    def forward(self, lang: torch.Tensor, img: torch.Tensor, lang_mask: torch.Tensor, img_mask: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        for encoder in self.enc_list:
            lang = encoder(lang, lang_mask)
        for decoder in self.dec_list:
            img = decoder(img, lang, img_mask, lang_mask)
        return lang, img


class AttFlat(nn.Module):
    """Attention pooling: MLP scores per position (padding masked), softmax, weighted sum, linear merge."""

    def __init__(self, options: McanOptions):
        super().__init__()
        self.glimpses = options.flat_glimpses
        self.mlp = MLP(options.hidden_size, options.flat_mlp_size, options.flat_glimpses, options.dropout)
        self.linear_merge = nn.Linear(options.hidden_size * options.flat_glimpses, options.flat_out_size)

    def forward(self, x: torch.Tensor, x_mask: torch.Tensor) -> torch.Tensor:
        """x (B, L, H), x_mask (B, 1, 1, L) -> (B, flat_out_size)."""
        scores = self.mlp(x).masked_fill(x_mask.squeeze(1).squeeze(1).unsqueeze(2), MASK_FILL)  # (B, L, G)
        weights = torch.softmax(scores, dim=1)
        pooled = torch.einsum("blg,blh->bgh", weights, x).flatten(1)  # (B, G * H), glimpse-major
        return self.linear_merge(pooled)


class MCAN(nn.Module):
    """features (B, K, D) + feature_mask (B, K) + tokens (B, T) -> logits (B, A)."""

    def __init__(self, options: McanOptions, vocab_size: int, num_answers: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, options.embed_dim)
        self.lstm = nn.LSTM(options.embed_dim, options.hidden_size, num_layers=1, batch_first=True)
        self.img_feat_linear = nn.Linear(options.feature_dim, options.hidden_size)
        self.backbone = EncoderDecoder(options)
        self.attflat_img = AttFlat(options)
        self.attflat_lang = AttFlat(options)
        self.proj_norm = ReferenceLayerNorm(options.flat_out_size)
        self.proj = nn.Linear(options.flat_out_size, num_answers)

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        tokens, lengths = batch["tokens"], batch["lengths"]
        lang_mask = (tokens == 0)[:, None, None, :]  # (B, 1, 1, T), PAD = 0
        img_mask = (~batch["feature_mask"])[:, None, None, :]  # (B, 1, 1, K)
        lang, _ = run_lstm(self.lstm, self.embedding(tokens), lengths)  # (B, T, H)
        img = self.img_feat_linear(batch["features"])
        lang, img = self.backbone(lang, img, lang_mask, img_mask)
        fused = self.proj_norm(self.attflat_lang(lang, lang_mask) + self.attflat_img(img, img_mask))
        return {"logits": self.proj(fused)}


@register_model("mcan_small", McanOptions)
def build_mcan_small(options: McanOptions, vocab_size: int, num_answers: int) -> nn.Module:
    """MCAN-small (H=512) for a question vocabulary and an answer list of the given sizes."""
    return MCAN(options, vocab_size, num_answers)


@register_model("mcan_large", McanLargeOptions)
def build_mcan_large(options: McanLargeOptions, vocab_size: int, num_answers: int) -> nn.Module:
    """MCAN-large (H=1024, 2H flat output) for a question vocabulary and an answer list of the given sizes."""
    return MCAN(options, vocab_size, num_answers)
