"""MCAN: Deep Modular Co-Attention Networks (Yu et al., CVPR 2019), encoder-decoder variant.

As MILVLG/mcan-vqa builds it: GloVe-sized word embeddings (300) read by an LSTM (hidden H); image
region features (up to 100 bottom-up-attention boxes x 2048) projected to H; 6 self-attention (SA)
layers on the question, then 6 self-guided-attention (SGA) layers on the regions, each guided by
the *final* question features; 8 heads, attention dropout 0.1, post-LN residuals, FFN of 4H; the
reference's own LayerNorm (unbiased std, eps added to the std); AttFlat (MLP H -> 512 -> 1 glimpse,
softmax over positions, linear H -> 2H) on both streams; their sum -> LayerNorm -> Linear(2H, A).
Padded keys get -1e9 before each softmax, as in the reference; padded rows are never computed
(`vlkit.nn.packed_rows`). The reference applies a sigmoid and BCE (sum); vlkit returns the logits
and trains with BCE-with-logits.

Module and parameter names follow the reference checkpoints (`backbone.enc_list.0.mhatt.linear_q`,
`attflat_img.mlp.fc.linear`, `proj_norm.a_2`, ...), so a mcan-vqa state_dict maps one to one.
Reported (VQA v2 test-dev, train+val+vg): small 70.69 overall, large 70.82 (paper) / 70.93 (repo);
small on val trained on train: 67.17.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from vlkit.core.validation import check_choice
from vlkit.nn.packed_rows import PackedRows
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
    """mcan-vqa's LayerNorm: a_2 * (x - mean) / (std + eps) + b_2, with the *unbiased* std.

    The mean and variance come from one `var_mean` pass; the per-row scale a_2 / (std + eps) is applied once."""

    def __init__(self, size: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.a_2 = nn.Parameter(torch.ones(size))
        self.b_2 = nn.Parameter(torch.zeros(size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        variance, mean = torch.var_mean(x, dim=-1, keepdim=True, correction=1)
        return torch.addcmul(self.b_2, x - mean, self.a_2 / (variance.sqrt() + self.eps))


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
    """Multi-head scaled dot-product attention from packed query rows to packed key/value rows.

    Projections run on the packed rows; `scaled_dot_product_attention` (fused kernels on CPU and
    GPU) runs on the padded (B, heads, L, d) view with padded keys biased by -1e9, as the reference
    masks them, and attention dropout on the weights."""

    def __init__(self, options: McanOptions):
        super().__init__()
        size = options.hidden_size
        self.heads = options.heads
        self.linear_v = nn.Linear(size, size)
        self.linear_k = nn.Linear(size, size)
        self.linear_q = nn.Linear(size, size)
        self.linear_merge = nn.Linear(size, size)
        self.dropout = nn.Dropout(options.dropout)

    def split_heads(self, rows: torch.Tensor, layout: PackedRows) -> torch.Tensor:
        """rows (N, H) -> (B, heads, L, H / heads), zero at padded positions."""
        padded = layout.unpack(rows)
        return padded.view(*padded.shape[:2], self.heads, -1).transpose(1, 2)

    @staticmethod
    def project(x: torch.Tensor, *linears: nn.Linear) -> tuple[torch.Tensor, ...]:
        """x (N, H) through several H -> H linear layers at once -> one (N, H) tensor per layer."""
        weight = torch.cat([linear.weight for linear in linears])
        bias = torch.cat([linear.bias for linear in linears])
        return F.linear(x, weight, bias).chunk(len(linears), dim=-1)

    def forward(self, kv: torch.Tensor, kv_layout: PackedRows, q: torch.Tensor, q_layout: PackedRows) -> torch.Tensor:
        """kv (Nk, H) key/value rows, q (Nq, H) query rows -> attended query rows (Nq, H)."""
        if kv is q:  # self-attention: the three projections in one matmul
            query_rows, key_rows, value_rows = self.project(q, self.linear_q, self.linear_k, self.linear_v)
        else:
            query_rows = self.linear_q(q)
            key_rows, value_rows = self.project(kv, self.linear_k, self.linear_v)
        query = self.split_heads(query_rows, q_layout)
        key, value = self.split_heads(key_rows, kv_layout), self.split_heads(value_rows, kv_layout)
        attended = F.scaled_dot_product_attention(
            query, key, value, attn_mask=kv_layout.key_bias_as(query.dtype),
            dropout_p=self.dropout.p if self.training else 0.0)  # (B, heads, Lq, d)
        return self.linear_merge(q_layout.pack(attended.transpose(1, 2)).flatten(1))


class FFN(nn.Module):
    def __init__(self, options: McanOptions):
        super().__init__()
        self.mlp = MLP(options.hidden_size, 4 * options.hidden_size, options.hidden_size, options.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(x)


class SA(nn.Module):
    """Self-attention unit on packed rows: x = LN(x + SelfAtt(x)); x = LN(x + FFN(x))."""

    def __init__(self, options: McanOptions):
        super().__init__()
        self.mhatt = MultiHeadAttention(options)
        self.ffn = FFN(options)
        self.dropout1, self.norm1 = nn.Dropout(options.dropout), ReferenceLayerNorm(options.hidden_size)
        self.dropout2, self.norm2 = nn.Dropout(options.dropout), ReferenceLayerNorm(options.hidden_size)

    def forward(self, x: torch.Tensor, x_layout: PackedRows) -> torch.Tensor:
        """x (N, H) -> (N, H)."""
        x = self.norm1(x + self.dropout1(self.mhatt(x, x_layout, x, x_layout)))
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

    def forward(self, x: torch.Tensor, y: torch.Tensor, x_layout: PackedRows, y_layout: PackedRows) -> torch.Tensor:
        """x (Nx, H) rows guided by y (Ny, H) rows -> (Nx, H)."""
        x = self.norm1(x + self.dropout1(self.mhatt1(x, x_layout, x, x_layout)))
        x = self.norm2(x + self.dropout2(self.mhatt2(y, y_layout, x, x_layout)))
        return self.norm3(x + self.dropout3(self.ffn(x)))


class EncoderDecoder(nn.Module):
    """6 SA layers on the question, then 6 SGA layers on the image guided by the final question features."""

    def __init__(self, options: McanOptions):
        super().__init__()
        self.enc_list = nn.ModuleList([SA(options) for _ in range(options.layers)])
        self.dec_list = nn.ModuleList([SGA(options) for _ in range(options.layers)])

    def forward(self, lang: torch.Tensor, img: torch.Tensor, lang_layout: PackedRows, img_layout: PackedRows
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """lang (Nw, H) word rows, img (Nr, H) region rows -> both after the backbone."""
        for encoder in self.enc_list:
            lang = encoder(lang, lang_layout)
        for decoder in self.dec_list:
            img = decoder(img, lang, img_layout, lang_layout)
        return lang, img


class AttFlat(nn.Module):
    """Attention pooling: MLP scores per row, softmax over each item's rows, weighted sum, linear merge."""

    def __init__(self, options: McanOptions):
        super().__init__()
        self.glimpses = options.flat_glimpses
        self.mlp = MLP(options.hidden_size, options.flat_mlp_size, options.flat_glimpses, options.dropout)
        self.linear_merge = nn.Linear(options.hidden_size * options.flat_glimpses, options.flat_out_size)

    def forward(self, x: torch.Tensor, layout: PackedRows) -> torch.Tensor:
        """x (N, H) packed rows -> (B, flat_out_size)."""
        scores = layout.unpack(self.mlp(x), fill=MASK_FILL)  # (B, L, G), padding filled as the reference does
        weights = layout.pack(torch.softmax(scores, dim=1))  # (N, G)
        pooled = x.new_zeros(layout.batch_size, self.glimpses, x.shape[1], dtype=torch.promote_types(
            x.dtype, weights.dtype)).index_add(0, layout.batch_index, weights[:, :, None] * x[:, None, :])
        return self.linear_merge(pooled.flatten(1))  # (B, G * H), glimpse-major


class MCAN(nn.Module):
    """features (B, K, D) + feature_mask (B, K) + tokens (B, T) -> logits (B, A).

    Words and regions travel through the network as packed rows (`PackedRows`): the padding after
    each question and after each image's boxes is never computed, and the outputs equal the
    reference's, which computes it and masks it."""

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
        lang_layout = PackedRows(tokens != 0, MASK_FILL)  # PAD = 0, as the reference masks
        img_layout = PackedRows(batch["feature_mask"], MASK_FILL)
        lang, _ = run_lstm(self.lstm, self.embedding(tokens), lengths)  # (B, T, H)
        lang = lang_layout.pack(lang)  # (Nw, H)
        img = self.img_feat_linear(img_layout.pack(batch["features"]))  # (Nr, H)
        lang, img = self.backbone(lang, img, lang_layout, img_layout)
        fused = self.proj_norm(self.attflat_lang(lang, lang_layout) + self.attflat_img(img, img_layout))
        return {"logits": self.proj(fused)}


@register_model("mcan_small", McanOptions)
def build_mcan_small(options: McanOptions, vocab_size: int, num_answers: int) -> nn.Module:
    """MCAN-small (H=512) for a question vocabulary and an answer list of the given sizes."""
    return MCAN(options, vocab_size, num_answers)


@register_model("mcan_large", McanLargeOptions)
def build_mcan_large(options: McanLargeOptions, vocab_size: int, num_answers: int) -> nn.Module:
    """MCAN-large (H=1024, 2H flat output) for a question vocabulary and an answer list of the given sizes."""
    return MCAN(options, vocab_size, num_answers)
